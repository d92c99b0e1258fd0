//! `si-ledger entitlement`: a benefit's calculation inputs as the Fund
//! computes them (DOMAIN.md §5), from a participant's account.

use crate::common::open_existing_store;
use anyhow::{Context as _, Result};
use clap::Args;
use ledger_core::{mask_id, parse_date, BenefitType, Context, Iin, Request};
use std::path::PathBuf;

#[derive(Args)]
pub struct EntitlementArgs {
    /// The participant's IIN.
    pub iin: String,
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// The benefit type: 0701 loss of breadwinner, 0702 loss of working
    /// capacity, 0703 loss of job, 0704 maternity, 0705 child care.
    #[arg(long = "type", value_name = "CODE")]
    pub benefit_type: String,
    /// The application date: the window ends the month before it, and
    /// contributions received after it are left out (except for the month
    /// before).
    #[arg(long, value_name = "DATE")]
    pub as_of: String,
    /// The day the social risk occurred: the income window ends the month
    /// before its month (default: the month of --as-of).
    #[arg(long, value_name = "DATE")]
    pub risk_date: Option<String>,
    /// Use only what the ledger had recorded by the end of DATE.
    #[arg(long, value_name = "DATE")]
    pub as_known_on: Option<String>,
    /// 0701: dependants.
    #[arg(long, default_value_t = 0)]
    pub dependants: u32,
    /// 0702: degree of lost working capacity, percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 0)]
    pub capacity_loss: u32,
    /// 0704: days of leave.
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub leave_days: u32,
    #[arg(long)]
    pub json: bool,
}

pub fn entitlement(ctx: &Context, args: &EntitlementArgs) -> Result<i32> {
    let iin = Iin::parse(&args.iin).with_context(|| format!("IIN {}", mask_id(&args.iin)))?;
    let req = Request {
        benefit_type: BenefitType::parse(&args.benefit_type)
            .map_err(anyhow::Error::msg)
            .context("--type")?,
        as_of: parse_date(&args.as_of).context("--as-of")?,
        risk_date: args
            .risk_date
            .as_deref()
            .map(parse_date)
            .transpose()
            .context("--risk-date")?,
        dependants: args.dependants,
        capacity_loss_percent: args.capacity_loss,
        leave_days: args.leave_days,
    };
    let known_on = args
        .as_known_on
        .as_deref()
        .map(parse_date)
        .transpose()
        .context("--as-known-on")?;
    let store = open_existing_store(&args.data)?;
    let views = ledger_api::Views {
        store: &store,
        held: None,
    };
    let account = views.account(ctx, &iin, None, known_on)?;
    let e =
        ledger_core::entitlement(&account, &ctx.parameters, &req).map_err(anyhow::Error::msg)?;
    if args.json {
        let mut v = serde_json::to_value(&e)?;
        v["iin"] = serde_json::Value::from(iin.masked());
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "{} benefit {} as of {}",
        iin.masked(),
        e.benefit_type,
        e.as_of
    );
    println!("  participation months  {}", e.participation_months);
    println!("  stazh coefficient     {}", e.stazh_coefficient);
    println!(
        "  average income        {} ({} of {} months with income)",
        e.average_monthly_income, e.months_used, e.window_months
    );
    println!("  MZP                   {}", e.mzp);
    println!("  formula               {}", e.formula);
    println!("  amount                {}", e.amount);
    if let Some(d) = e.duration_months {
        println!("  paid for              {d} months");
    }
    if let Some(n) = &e.note {
        println!("  note                  {n}");
    }
    for m in &e.months {
        println!(
            "    {} {:>14}{}",
            m.period,
            m.income.to_string(),
            if m.capped { " (capped at 7 MZP)" } else { "" }
        );
    }
    Ok(0)
}
