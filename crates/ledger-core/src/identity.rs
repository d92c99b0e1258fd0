//! Identity across identifiers (seeds `001_…`, `002_…`): one person may
//! have been given two numbers (in Kyrgyzstan about 100,901 PINs were still
//! duplicated in 2025). Two accounts whose person data agree on the
//! normalized full name and the birth date look like one person.

use crate::{normalize_name, Account, PersonData};
use chrono::NaiveDate;

/// What two accounts of one person share: the normalized surname, name
/// and patronymic ([`normalize_name`]: case, spacing, Ё/Е and the banks'
/// fold of Kazakh letters and Latin look-alikes do not count) and the
/// birth date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityKey {
    pub full_name: String,
    pub birth_date: NaiveDate,
}

/// The person data an account goes by: the register's latest record, else
/// what the latest credited line said.
pub fn person_of(account: &Account) -> Option<&PersonData> {
    account
        .register
        .last()
        .or(account.person.as_ref().map(|p| &p.data))
}

/// The account's identity key, if its person data has a name and a birth
/// date.
pub fn identity_key(account: &Account) -> Option<IdentityKey> {
    let p = person_of(account)?;
    let birth_date = p.birth_date?;
    let full_name = normalize_name(&format!("{} {} {}", p.surname, p.name, p.patronymic));
    if full_name.is_empty() {
        return None;
    }
    Some(IdentityKey {
        full_name,
        birth_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Iin, PersonRecord, Sex};

    fn account(serial: u16, surname: &str, birth: &str) -> Account {
        let born = NaiveDate::parse_from_str("1990-05-17", "%Y-%m-%d").unwrap();
        let iin = (serial..)
            .find_map(|s| Iin::generate(born, Sex::Female, s))
            .unwrap();
        let mut a = Account::new(iin);
        a.person = Some(PersonRecord {
            from_register: false,
            data: PersonData {
                surname: surname.into(),
                name: "Айгерим".into(),
                patronymic: String::new(),
                birth_date: Some(NaiveDate::parse_from_str(birth, "%Y-%m-%d").unwrap()),
                sex: None,
                address: String::new(),
                postcode: String::new(),
                document: None,
                citizenship: String::new(),
                effective_on: None,
                deceased_on: None,
            },
        });
        a
    }

    #[test]
    fn seed_002_one_person_under_two_identifiers_has_one_key() {
        let a = account(1, "Ахмётова", "1990-05-17");
        let b = account(500, "  АХМЕТОВА ", "1990-05-17");
        assert_ne!(a.iin, b.iin);
        assert_eq!(identity_key(&a), identity_key(&b));
        assert_ne!(
            identity_key(&a),
            identity_key(&account(2, "Ахметова", "1990-05-18")),
            "another birth date is another person"
        );
        assert_eq!(identity_key(&Account::new(a.iin)), None, "no person data");
        // Inputs §2: a surname typed with a combining breve is the same
        // person's (`cases/wave2/04-…`).
        let decomposed = account(900, "Ба\u{0438}\u{0306}жанова", "1990-05-17");
        let composed = account(1200, "Байжанова", "1990-05-17");
        assert_eq!(identity_key(&decomposed), identity_key(&composed));
        // Under the banks' fold (docs/rules.md, "Names"): Kazakh letters to
        // their bases, Latin look-alikes to Cyrillic (wave 3, case 8).
        let kazakh = account(1500, "Қарақұлова", "1990-05-17");
        let folded = account(1800, "Каракулова", "1990-05-17");
        let latin = account(2100, "Қaрaқұлова", "1990-05-17");
        assert_eq!(identity_key(&kazakh), identity_key(&folded));
        assert_eq!(identity_key(&kazakh), identity_key(&latin));
    }
}
