//! Benefit calculation inputs as the Fund computes them (DOMAIN.md §5):
//! participation months, the stazh coefficient, the average monthly income
//! reconstructed from contributions, and the amount by each type's formula.
//! Rates and the minimum wage (MZP) are dated [`Parameters`], data rather
//! than code. Pure: the same account, parameters and request give the same
//! figures.

use crate::{Account, BenefitType, Money, Period, Ppc};
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUILT_IN: &str = include_str!("../data/parameters-kz.json");

/// Dated parameters: the social contribution rate (Social Code art. 244)
/// and the minimum monthly wage, each in force from a date until the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// Percent of income, from a date.
    rates: BTreeMap<NaiveDate, Decimal>,
    mzp: BTreeMap<NaiveDate, Money>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParametersFile {
    /// What the file is: read, not used.
    #[serde(default, rename = "name")]
    _name: String,
    #[serde(default)]
    contribution_rate: Vec<Dated>,
    #[serde(default)]
    mzp: Vec<Dated>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Dated {
    from: String,
    #[serde(default)]
    percent: Option<String>,
    #[serde(default)]
    amount: Option<String>,
    /// Where the value comes from: read, not used.
    #[serde(default, rename = "source")]
    _source: String,
}

impl Parameters {
    /// The built-in table (`data/parameters-kz.json`).
    pub fn built_in() -> Parameters {
        let mut p = Parameters {
            rates: BTreeMap::new(),
            mzp: BTreeMap::new(),
        };
        p.merge_json(BUILT_IN)
            .expect("the built-in parameters are valid");
        p
    }

    /// The built-in table with a file's entries added (an entry with the
    /// same `from` date replaces the built-in one): a new rate or minimum
    /// wage is a data change, not a release.
    pub fn with_overrides(json: &str) -> Result<Parameters, String> {
        let mut p = Parameters::built_in();
        p.merge_json(json)?;
        Ok(p)
    }

    fn merge_json(&mut self, json: &str) -> Result<(), String> {
        let file: ParametersFile = serde_json::from_str(json).map_err(|e| e.to_string())?;
        for (i, r) in file.contribution_rate.iter().enumerate() {
            let at = |f: &str| format!("contribution_rate[{i}].{f}");
            let from = crate::parse_date(&r.from).map_err(|e| format!("{}: {e}", at("from")))?;
            let percent = r
                .percent
                .as_deref()
                .and_then(|p| p.parse::<Decimal>().ok())
                .filter(|p| *p > Decimal::ZERO && *p < Decimal::ONE_HUNDRED)
                .ok_or_else(|| format!("{}: a percent between 0 and 100", at("percent")))?;
            self.rates.insert(from, percent);
        }
        for (i, m) in file.mzp.iter().enumerate() {
            let at = |f: &str| format!("mzp[{i}].{f}");
            let from = crate::parse_date(&m.from).map_err(|e| format!("{}: {e}", at("from")))?;
            let amount = m
                .amount
                .as_deref()
                .and_then(|a| Money::parse(a).ok())
                .filter(Money::is_positive)
                .ok_or_else(|| format!("{}: a positive amount", at("amount")))?;
            self.mzp.insert(from, amount);
        }
        Ok(())
    }

    /// The contribution rate in force on `day`, in percent.
    pub fn rate_on(&self, day: NaiveDate) -> Option<Decimal> {
        self.rates.range(..=day).next_back().map(|(_, r)| *r)
    }

    /// The minimum monthly wage in force on `day`.
    pub fn mzp_on(&self, day: NaiveDate) -> Option<Money> {
        self.mzp.range(..=day).next_back().map(|(_, m)| *m)
    }
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters::built_in()
    }
}

/// What is asked: a benefit type as of a date (the application date), with
/// the inputs its formula needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub benefit_type: BenefitType,
    /// The application date: contributions received after it are left out.
    pub as_of: NaiveDate,
    /// The day the social risk occurred (the right arose), if known: the
    /// window ends the month before its month. Without it, the month of
    /// `as_of`. Never after `as_of` (refused: a right is applied for once
    /// it has arisen).
    pub risk_date: Option<NaiveDate>,
    /// 0701: dependants (1, 2, 3, 4 or more).
    pub dependants: u32,
    /// 0702: degree of lost working capacity, percent.
    pub capacity_loss_percent: u32,
    /// 0704: days of maternity leave.
    pub leave_days: u32,
}

/// One month of the income window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthIncome {
    pub period: Period,
    /// Income reconstructed from contributions, each payer capped at 7 MZP.
    pub income: Money,
    /// Whether a payer's month was capped.
    pub capped: bool,
}

/// The calculation, with every input shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entitlement {
    pub benefit_type: &'static str,
    #[serde(with = "crate::time::date_serde")]
    pub as_of: NaiveDate,
    /// Calendar months before the month of the right with contributions.
    pub participation_months: u32,
    pub stazh_coefficient: String,
    pub average_monthly_income: Money,
    /// Months of the window with income.
    pub months_used: u32,
    /// The window's length: 24 months, 12 for 0704.
    pub window_months: u32,
    pub mzp: Money,
    /// The formula applied, with its figures.
    pub formula: String,
    /// Whole tenge; zero when not entitled.
    pub amount: Money,
    pub entitled: bool,
    /// Why not entitled, or what capped the amount.
    pub note: Option<String>,
    /// 0703: months the benefit is paid for, by participation (1-6).
    pub duration_months: Option<u32>,
    pub months: Vec<MonthIncome>,
}

/// `d` rounded half away from zero to `places` decimals, as a count of
/// units of that place.
fn units(d: Decimal, places: u32) -> i64 {
    let mut r = d.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(places);
    i64::try_from(r.mantissa()).unwrap_or(i64::MAX)
}

/// To the tiyn, half away from zero.
fn tiyn(d: Decimal) -> Money {
    Money::from_tiyn(units(d, 2))
}

/// Whole tenge, half away from zero (DOMAIN §5: amounts in whole tenge).
fn whole_tenge(d: Decimal) -> Money {
    Money::from_tiyn(units(d, 0).saturating_mul(100))
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("a decimal literal")
}

/// The stazh coefficient for `months` of participation (DOMAIN §5; band
/// edges: lower bound inclusive, an assumption). `None`: no entitlement
/// (0703 needs at least 6 months).
pub fn stazh_coefficient(benefit: BenefitType, months: u32) -> Option<Decimal> {
    Some(match months {
        0..6 => match benefit {
            BenefitType::LossOfJob => return None,
            _ => dec("0.1"),
        },
        6..12 => dec("0.7"),
        12..24 => dec("0.75"),
        24..36 => dec("0.85"),
        36..48 => dec("0.9"),
        48..60 => dec("0.95"),
        60..72 => Decimal::ONE,
        _ => (Decimal::ONE + dec("0.02") * Decimal::from((months - 60) / 12)).min(dec("1.3")),
    })
}

/// 0703: months paid by participation (assumption from the Social Code's
/// scale "1 to 6 months by stazh": one more month per 12 months from 6).
fn job_loss_duration(months: u32) -> u32 {
    match months {
        0..12 => 1,
        12..24 => 2,
        24..36 => 3,
        36..48 => 4,
        48..60 => 5,
        _ => 6,
    }
}

/// 0701: the dependants coefficient.
fn dependants_coefficient(n: u32) -> Option<Decimal> {
    match n {
        0 => None,
        1 => Some(dec("0.5")),
        2 => Some(dec("0.65")),
        3 => Some(dec("0.8")),
        _ => Some(Decimal::ONE),
    }
}

/// Net contributions (012) per payer for `period` as known on `as_of`
/// (DOMAIN §5: what the Fund saw on the application date): credited minus
/// refunded, leaving out lines received after `as_of` and refunds decided
/// after it — except that in the month before the right arose (`right`)
/// contributions count whenever received (refunds decided after `as_of`
/// are left out there too). Lines received after `as_of`
/// can only be late ones (a line on time for a period before `right`'s
/// previous month was due by the 25th of a month before `as_of`'s, since
/// `right` is never after `as_of`'s month), so `late_paid` holds them all.
/// Each tenge counts once: a late line that a later refund took out is
/// put back with that refund, not subtracted a second time.
fn net_by_payer(
    account: &Account,
    period: Period,
    right: Period,
    as_of: NaiveDate,
) -> Vec<Decimal> {
    let exempt = period == right.previous();
    account
        .payers
        .range(
            crate::PayerKey {
                period,
                ppc: Ppc::CONTRIBUTION,
                payer: crate::PayerId::MIN,
            }..,
        )
        .take_while(|(k, _)| k.period == period && k.ppc == Ppc::CONTRIBUTION)
        .map(|(k, line)| {
            let mut net = line.credited.decimal() - line.refunded.decimal();
            let after = |p: Period, payer: crate::PayerId, on: NaiveDate| {
                p == period && payer == k.payer && on > as_of
            };
            if !exempt {
                for late in account
                    .late_paid
                    .iter()
                    .filter(|l| after(l.period, l.payer, l.received_on.0))
                {
                    net -= late.amount.decimal();
                }
            }
            // A refund decided after the date is put back in every month,
            // the one before the right too: its lines count whenever
            // received, but what the Fund saw on the date was not yet
            // refunded.
            for r in account
                .refunded_lines
                .iter()
                .filter(|r| after(r.period, r.payer, r.decided_on.0))
            {
                net += r.amount.decimal();
            }
            net.max(Decimal::ZERO)
        })
        .collect()
}

/// Computes the entitlement for `req` from `account`.
pub fn entitlement(
    account: &Account,
    params: &Parameters,
    req: &Request,
) -> Result<Entitlement, String> {
    if let Some(risk) = req.risk_date {
        // The right arises before it is applied for; a window ending after
        // the application date would count lines not yet received (and on
        // time ones cannot be told apart by their receipt dates).
        if risk > req.as_of {
            return Err(format!(
                "the risk date {risk} is after the application date {}: a right is applied for once it has arisen",
                req.as_of
            ));
        }
    }
    let right = Period::of(req.risk_date.unwrap_or(req.as_of));
    let mzp = params
        .mzp_on(req.as_of)
        .ok_or_else(|| format!("no minimum wage in force on {}", req.as_of))?;
    // Participation: every month before the right's with contributions.
    let participation_months = account
        .payers
        .keys()
        .filter(|k| k.period < right && k.ppc == Ppc::CONTRIBUTION)
        .map(|k| k.period)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|p| {
            net_by_payer(account, *p, right, req.as_of)
                .iter()
                .any(|n| *n > Decimal::ZERO)
        })
        .count() as u32;
    let window_months: u32 = if req.benefit_type == BenefitType::Maternity {
        12
    } else {
        24
    };
    let mut first = right;
    for _ in 0..window_months {
        first = first.previous();
    }
    let mut months = Vec::new();
    let mut total = Decimal::ZERO;
    let mut period = first;
    while period < right {
        let nets = net_by_payer(account, period, right, req.as_of);
        if !nets.is_empty() {
            let day = period.first_day();
            let rate = params
                .rate_on(day)
                .ok_or_else(|| format!("no contribution rate in force for {period}"))?;
            let cap = params
                .mzp_on(day)
                .ok_or_else(|| format!("no minimum wage in force for {period}"))?
                .decimal()
                * Decimal::from(7);
            let mut income = Decimal::ZERO;
            let mut capped = false;
            for net in nets {
                let payer_income = tiyn(net * Decimal::ONE_HUNDRED / rate).decimal();
                capped |= payer_income > cap;
                income += payer_income.min(cap);
            }
            if income > Decimal::ZERO {
                total += income;
                months.push(MonthIncome {
                    period,
                    income: tiyn(income),
                    capped,
                });
            }
        }
        period = period.next();
    }
    let average = tiyn(total / Decimal::from(window_months));
    let avg = average.decimal();
    let m = mzp.decimal();
    let coefficient = stazh_coefficient(req.benefit_type, participation_months);
    let coef_shown = coefficient.map(|c| c.normalize().to_string());
    let mut note = None;
    let mut duration_months = None;
    let (formula, amount) = match (req.benefit_type, coefficient) {
        (BenefitType::LossOfWorkingCapacity, Some(k)) => {
            if req.capacity_loss_percent == 0 || req.capacity_loss_percent > 100 {
                return Err("0702 needs --capacity-loss PERCENT, 1-100".into());
            }
            let degree = Decimal::from(req.capacity_loss_percent) / Decimal::ONE_HUNDRED;
            (
                format!(
                    "(avg {average} - 0.5 x MZP {mzp}) x 0.6 x stazh {} x degree {}",
                    k.normalize(),
                    degree.normalize()
                ),
                (avg - m / Decimal::TWO).max(Decimal::ZERO) * dec("0.6") * k * degree,
            )
        }
        (BenefitType::LossOfBreadwinner, Some(k)) => {
            let d = dependants_coefficient(req.dependants)
                .ok_or("0701 needs --dependants N, at least 1")?;
            (
                format!(
                    "(avg {average} - 0.5 x MZP {mzp}) x 0.6 x stazh {} x dependants {}",
                    k.normalize(),
                    d.normalize()
                ),
                (avg - m / Decimal::TWO).max(Decimal::ZERO) * dec("0.6") * k * d,
            )
        }
        (BenefitType::LossOfJob, Some(k)) => {
            duration_months = Some(job_loss_duration(participation_months));
            (
                format!("avg {average} x 0.45 x stazh {}", k.normalize()),
                avg * dec("0.45") * k,
            )
        }
        (BenefitType::LossOfJob, None) => {
            note = Some(format!(
                "0703 needs at least 6 months of participation, has {participation_months}"
            ));
            ("not entitled".to_string(), Decimal::ZERO)
        }
        (BenefitType::Maternity, _) => {
            if req.leave_days == 0 {
                return Err("0704 needs --leave-days D".into());
            }
            let days = Decimal::from(req.leave_days) / Decimal::from(30);
            let raw = avg * days;
            let cap = m * Decimal::from(7) * days;
            if raw > cap {
                note = Some(format!("capped at 7 x MZP x {} / 30", req.leave_days));
            }
            (
                format!(
                    "avg(12) {average} x {} / 30, at most 7 x MZP {mzp} x {} / 30",
                    req.leave_days, req.leave_days
                ),
                raw.min(cap),
            )
        }
        (BenefitType::ChildCare, _) => {
            let raw = avg * dec("0.4");
            let cap = m * Decimal::from(7) * dec("0.4");
            if raw > cap {
                note = Some("capped at 40 % of 7 x MZP".into());
            }
            (
                format!("avg {average} x 0.40, at most 0.40 x 7 x MZP {mzp}"),
                raw.min(cap),
            )
        }
        (BenefitType::LossOfWorkingCapacity | BenefitType::LossOfBreadwinner, None) => {
            unreachable!("0701 and 0702 have a coefficient below 6 months")
        }
    };
    let entitled = amount > Decimal::ZERO;
    if !entitled && note.is_none() {
        note = Some("the formula gives nothing: the average income is too low".into());
    }
    Ok(Entitlement {
        benefit_type: req.benefit_type.code(),
        as_of: req.as_of,
        participation_months,
        stazh_coefficient: coef_shown.unwrap_or_else(|| "-".into()),
        average_monthly_income: average,
        months_used: months.len() as u32,
        window_months,
        mzp,
        formula,
        amount: whole_tenge(amount),
        entitled,
        note,
        duration_months,
        months,
    })
}
