//! A realistic synthetic population and its events, for the demo and the
//! benchmarks. Deterministic for a seed; every IIN and BIN comes from the
//! project's own generator, so no real person is ever in a fixture.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use ledger_core::{Bin, Calendar, Iin, PayerId, Period, Sex};
use ledger_proto::v1 as pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Minimum monthly wage (MZP), KZT, 2024-2026 (DOMAIN.md §3).
const MZP: i64 = 85_000;

const SURNAMES: [&str; 12] = [
    "Ахметов",
    "Бекмуханов",
    "Жумабаев",
    "Исмаилов",
    "Касымов",
    "Нурланов",
    "Оспанов",
    "Сарсенбаев",
    "Тулегенов",
    "Омаров",
    "Кенжебаев",
    "Абенов",
];
const MALE: [&str; 8] = [
    "Асхат",
    "Ерлан",
    "Нурсултан",
    "Бауыржан",
    "Данияр",
    "Тимур",
    "Арман",
    "Серик",
];
const FEMALE: [&str; 8] = [
    "Айгерим",
    "Динара",
    "Жанар",
    "Асель",
    "Гульнара",
    "Мадина",
    "Сауле",
    "Алия",
];
const EMPLOYERS: [&str; 6] = [
    "ТОО «Алатау Сервис»",
    "АО «Казтранс»",
    "ТОО «Степь Строй»",
    "ИП Омаров",
    "ТОО «Нур Логистик»",
    "АО «Байтерек Агро»",
];

/// One event to publish, with the log timestamp the simulated bank used.
pub struct Item {
    pub wire: pb::Envelope,
    pub timestamp_ms: i64,
}

struct Person {
    iin: Iin,
    surname: String,
    name: String,
    birth: NaiveDate,
    sex: Sex,
    employer: usize,
    income: i64,
    /// A benefit assigned, and its last period: paid until then.
    benefit: Option<(String, Period)>,
}

/// How often the unusual things happen, per contribution line.
pub struct Mix {
    pub late: f64,
    pub duplicate: f64,
    pub conflict: f64,
    pub returned: f64,
    pub penalty: f64,
    pub refund: f64,
    pub excessive_refund: f64,
    pub benefit_share: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            late: 0.02,
            duplicate: 0.01,
            conflict: 0.0005,
            returned: 0.003,
            penalty: 0.03,
            refund: 0.005,
            excessive_refund: 0.001,
            benefit_share: 0.01,
        }
    }
}

pub struct Synth {
    rng: ChaCha8Rng,
    people: Vec<Person>,
    employers: Vec<(PayerId, &'static str)>,
    first: Period,
    mix: Mix,
    calendar: Calendar,
    seq: u64,
    seed: u64,
}

/// A local time in Kazakhstan (the IANA zone: UTC+6 before 2024-03-01)
/// as ms since the epoch. Working hours never fall in a clock change.
fn kz_ms(date: NaiveDate, hour: u32, minute: u32) -> i64 {
    let kz = ledger_core::calendar::DEFAULT_TIME_ZONE;
    kz.from_local_datetime(&date.and_hms_opt(hour, minute, 0).expect("valid time"))
        .earliest()
        .expect("working hours exist in every day")
        .with_timezone(&Utc)
        .timestamp_millis()
}

impl Synth {
    /// A population of `participants` whose activity ends with period
    /// 2026-09, `months` months long.
    pub fn new(seed: u64, participants: usize, months: u32, calendar: Calendar) -> Synth {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let employers = (0..EMPLOYERS.len())
            .map(|i| {
                let mut serial = i as u32 * 1000 + 17;
                loop {
                    if let Some(bin) = Bin::generate(10 + i as u8, 3, serial).map(PayerId::from) {
                        break (bin, EMPLOYERS[i]);
                    }
                    serial += 1;
                }
            })
            .collect();
        let mut people = Vec::with_capacity(participants);
        let mut serial: u32 = 0;
        while people.len() < participants {
            let sex = if rng.random_bool(0.5) {
                Sex::Male
            } else {
                Sex::Female
            };
            let birth = NaiveDate::from_ymd_opt(
                rng.random_range(1960..2005),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            )
            .expect("valid date");
            serial = (serial + 1) % 10_000;
            let Some(iin) = Iin::generate(birth, sex, serial as u16) else {
                continue;
            };
            let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
            let surname = if sex == Sex::Female {
                format!("{surname}а")
            } else {
                surname.to_string()
            };
            let name = if sex == Sex::Male {
                MALE[rng.random_range(0..8)]
            } else {
                FEMALE[rng.random_range(0..8)]
            };
            // Rules: the monthly base is 1 to 7 MZP; round to 1,000 tenge.
            let income = (rng.random_range(MZP..=7 * MZP) / 1000) * 1000;
            people.push(Person {
                iin,
                surname,
                name: name.to_string(),
                birth,
                sex,
                employer: rng.random_range(0..EMPLOYERS.len()),
                income,
                benefit: None,
            });
        }
        let mut first = Period::new(2026, 9).expect("valid");
        for _ in 1..months.max(1) {
            first = prev(first);
        }
        Synth {
            rng,
            people,
            employers,
            first,
            mix: Mix::default(),
            calendar,
            seq: 0,
            seed,
        }
    }

    pub fn iin(&self, i: usize) -> Iin {
        self.people[i].iin
    }

    fn event_id(&mut self) -> String {
        self.seq += 1;
        format!("synth-{}-{:010}", self.seed, self.seq)
    }

    /// Every participant registered by the state register of individuals.
    pub fn registrations(&mut self) -> Vec<Item> {
        let at = kz_ms(self.first.first_day() - Duration::days(40), 9, 0);
        (0..self.people.len())
            .map(|i| {
                let p = &self.people[i];
                let person = pb::PersonRegistered {
                    surname: p.surname.clone(),
                    name: p.name.clone(),
                    birth_date: p.birth.to_string(),
                    sex: p.sex.code().to_string(),
                    address: "г. Астана, ул. Достык, 1".into(),
                    postcode: "010000".into(),
                    citizenship: "KZ".into(),
                    effective_on: p.birth.to_string(),
                    ..Default::default()
                };
                let iin = p.iin.to_string();
                Item {
                    wire: pb::Envelope {
                        event_id: self.event_id(),
                        iin,
                        source: "register".into(),
                        signature: None,
                        payload: Some(pb::envelope::Payload::Person(person)),
                    },
                    timestamp_ms: at,
                }
            })
            .collect()
    }

    /// The events of the `m`-th month (0-based): contributions paid for it
    /// the following month, and everything that goes with them.
    pub fn month(&mut self, m: u32) -> Vec<Item> {
        let mut period = self.first;
        for _ in 0..m {
            period = period.next();
        }
        // Social Code art. 244: 3.5 %, and 5 % from 2025 (in hundredths of a percent).
        let rate_tiyn_per_100 = if period.year() >= 2025 { 500 } else { 350 };
        let mut out = Vec::with_capacity(self.people.len() * 11 / 10);
        let paid_month = period.next().first_day();
        for i in 0..self.people.len() {
            let offset = Duration::days(self.rng.random_range(4..20));
            let received = self.working_day_near(paid_month + offset);
            let late = self.rng.random_bool(self.mix.late);
            let rec_day = if late {
                received + Duration::days(self.rng.random_range(3..7))
            } else {
                received
            };
            let ts = kz_ms(
                rec_day,
                self.rng.random_range(9..19),
                self.rng.random_range(0..60),
            );
            let p = &self.people[i];
            let amount_tiyn = p.income * rate_tiyn_per_100 / 100;
            let (bin, employer) = self.employers[p.employer];
            let mut birth = p.birth;
            if self.rng.random_bool(self.mix.returned) {
                birth = birth
                    .with_day(if birth.day() == 1 { 2 } else { 1 })
                    .expect("valid day");
            }
            let line = contribution(
                p,
                i,
                birth,
                period,
                received,
                bin,
                employer,
                "012",
                amount_tiyn,
            );
            let iin = p.iin;
            let id = self.event_id();
            let item = self.item(id.clone(), iin, line.clone(), ts);
            if self.rng.random_bool(self.mix.duplicate) {
                out.push(self.item(id.clone(), self.people[i].iin, line.clone(), ts + 3_600_000));
            }
            if self.rng.random_bool(self.mix.conflict) {
                let mut other = line.clone();
                other.amount = format!("{}.00", amount_tiyn / 100 + 1);
                // A re-sent line with its payment's header agreeing.
                if let Some(p) = other.payment.as_mut() {
                    p.total_amount = other.amount.clone();
                }
                out.push(self.item(id, self.people[i].iin, other, ts + 7_200_000));
            }
            out.push(item);
            if self.rng.random_bool(self.mix.penalty) {
                let p = &self.people[i];
                let penalty =
                    contribution(p, i, p.birth, period, received, bin, employer, "017", 1234);
                let id = self.event_id();
                out.push(self.item(id, iin, penalty, ts));
            }
            if m > 0
                && self
                    .rng
                    .random_bool(self.mix.refund + self.mix.excessive_refund)
            {
                let excessive = self.rng.random_bool(
                    self.mix.excessive_refund / (self.mix.refund + self.mix.excessive_refund),
                );
                let p = &self.people[i];
                let half = amount_tiyn / 2;
                // A one-employee application; its request is `<id>/1`, as
                // `refund apply` names them (seed 003).
                let application = format!("APP-{}-{}", self.seed, self.seq);
                let refund = pb::ContributionRefunded {
                    application_id: application.clone(),
                    reason: "излишне уплаченные социальные отчисления".into(),
                    refunded_ppc: "012".into(),
                    period: prev(period).to_string(),
                    amount: money(if excessive { amount_tiyn * 3 } else { half }),
                    payer_id: bin.to_string(),
                    decided_on: received.to_string(),
                    payment: None,
                    application_size: 1,
                };
                self.seq += 1;
                let (iin, id) = (p.iin, format!("{application}/1"));
                out.push(Item {
                    wire: envelope(id, iin, "fund", pb::envelope::Payload::Refund(refund)),
                    timestamp_ms: ts,
                });
            }
            self.benefit_events(i, m, period, ts, &mut out);
        }
        out
    }

    fn benefit_events(&mut self, i: usize, m: u32, period: Period, ts: i64, out: &mut Vec<Item>) {
        let iin = self.people[i].iin;
        if m == 1
            && self.people[i].benefit.is_none()
            && self.rng.random_bool(self.mix.benefit_share)
        {
            let id = format!("BEN-{}-{i}", self.seed);
            let income = self.people[i].income;
            let end = period.next().next().next();
            let assigned = pb::BenefitAssigned {
                benefit_id: id.clone(),
                benefit_type: "0703".into(),
                applied_on: period.first_day().to_string(),
                decided_on: (period.first_day() + Duration::days(5)).to_string(),
                start_period: period.to_string(),
                end_period: end.to_string(),
                monthly_amount: money(income * 45 * 75 / 100),
                average_monthly_income: money(income * 100),
                participation_months: 24,
                ..Default::default()
            };
            self.people[i].benefit = Some((id, end));
            let eid = self.event_id();
            out.push(Item {
                wire: envelope(
                    eid,
                    iin,
                    "fund",
                    pb::envelope::Payload::BenefitAssigned(assigned),
                ),
                timestamp_ms: ts,
            });
        } else if let Some((benefit_id, _)) = self.people[i]
            .benefit
            .clone()
            .filter(|(_, end)| period <= *end)
        {
            let amount = self.people[i].income * 45 * 75 / 100;
            let paid = pb::BenefitPaid {
                benefit_id,
                period: period.to_string(),
                amount: money(amount),
                pension_contribution_withheld: money(amount / 10),
                payment: None,
            };
            let eid = self.event_id();
            out.push(Item {
                wire: envelope(eid, iin, "fund", pb::envelope::Payload::BenefitPaid(paid)),
                timestamp_ms: ts,
            });
        }
    }

    fn item(&self, id: String, iin: Iin, line: pb::ContributionPaid, ts: i64) -> Item {
        Item {
            wire: envelope(id, iin, "bank", pb::envelope::Payload::Contribution(line)),
            timestamp_ms: ts,
        }
    }

    fn working_day_near(&self, mut d: NaiveDate) -> NaiveDate {
        while !self.calendar.is_working_day(d) {
            d += Duration::days(1);
        }
        d
    }
}

fn prev(p: Period) -> Period {
    if p.month() == 1 {
        Period::new(p.year() - 1, 12).expect("valid")
    } else {
        Period::new(p.year(), p.month() - 1).expect("valid")
    }
}

fn money(tiyn: i64) -> String {
    format!("{}.{:02}", tiyn / 100, tiyn % 100)
}

fn envelope(
    event_id: String,
    iin: Iin,
    source: &str,
    payload: pb::envelope::Payload,
) -> pb::Envelope {
    pb::Envelope {
        event_id,
        iin: iin.to_string(),
        source: source.into(),
        signature: None,
        payload: Some(payload),
    }
}

#[allow(clippy::too_many_arguments)]
fn contribution(
    p: &Person,
    person_no: usize,
    birth: NaiveDate,
    period: Period,
    received: NaiveDate,
    bin: PayerId,
    employer: &str,
    ppc: &str,
    amount_tiyn: i64,
) -> pb::ContributionPaid {
    pb::ContributionPaid {
        payment: Some(pb::PaymentDocument {
            // One payment order per line (line_count 1, total = amount), so
            // that the synthetic payments reconcile (Rules §7).
            document_number: format!("PP-{}-{}-{ppc}-{person_no:07}", period, &bin.as_str()[6..]),
            document_date: (received - Duration::days(1)).to_string(),
            received_on: received.to_string(),
            dispatched_on: (received - Duration::days(1)).to_string(),
            ppc: ppc.into(),
            payer_id: bin.to_string(),
            payer_name: employer.into(),
            recipient_name: "НАО «Государственная корпорация «Правительство для граждан»".into(),
            total_amount: money(amount_tiyn),
            line_count: 1,
        }),
        period: period.to_string(),
        amount: money(amount_tiyn),
        person: Some(pb::PersonName {
            surname: p.surname.clone(),
            name: p.name.clone(),
            patronymic: String::new(),
            birth_date: birth.to_string(),
        }),
    }
}

/// A handful of lines a careless producer would send: each must be refused
/// at publish with its line, field and reason.
pub fn bad_lines(valid_iin: Iin) -> Vec<String> {
    let mut broken_check = valid_iin.to_string().into_bytes();
    broken_check[11] = b'0' + (broken_check[11] - b'0' + 1) % 10;
    let broken = String::from_utf8(broken_check).expect("ascii");
    vec![
        format!(
            r#"{{"eventId":"bad-1","iin":"{broken}","source":"bank","person":{{"surname":"Ошибкин"}}}}"#
        ),
        format!(
            r#"{{"eventId":"bad-2","iin":"{valid_iin}","source":"bank","contribution":{{"period":"2026-03","amount":"4250.005","payment":{{"receivedOn":"2026-04-10","ppc":"012","payerId":"{valid_iin}"}},"person":{{"surname":"А","name":"Б","birthDate":"1990-01-01"}}}}}}"#
        ),
        format!(
            r#"{{"eventId":"bad-3","iin":"{valid_iin}","source":"bank","contribution":{{"period":"2026-13","amount":"10.00"}}}}"#
        ),
        format!(
            r#"{{"eventId":"bad-4","iin":"{valid_iin}","source":"bank","refund":{{"recievedOn":"2026-04-10"}}}}"#
        ),
        "{not json".to_string(),
    ]
}
