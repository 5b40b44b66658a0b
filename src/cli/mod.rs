//! Argument parsing and dispatch for the `redflag` binary. The command names, flags, output shapes and exit codes
//! are a contract other tools and tests rely on: 0 when the input was analysed (whatever the verdict), 2 for a
//! usage error or an input that cannot be read.

mod batch;
#[cfg(feature = "train")]
mod card;
mod cost;
mod escalation;
#[cfg(feature = "train")]
mod eval;
mod history;
mod outbound;
#[cfg(feature = "train")]
mod plot;
mod read;
mod report;
mod sync;
#[cfg(feature = "train")]
mod train;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use redflag::check::{CheckFor, Checker};
use redflag::{Analyzer, LocalModel, RuleSet};

const EXAMPLES: &str = "\
Examples:
  redflag check examples/task-scam-whatsapp.txt
  pbpaste | redflag check -
  redflag check --json posting.html
  redflag check --jsonl batch.jsonl > verdicts.jsonl
  redflag check --show-outbound message.txt   (what an LLM would be sent; sends nothing)
  redflag history
  redflag report 12 scam   (tell your Redflag hub that check 12 was a scam)
  redflag cost
  redflag config show
  redflag rules

Exit codes: 0 analysed (whatever the verdict), 2 usage error or unreadable input.
`redflag sync`: 0 synced, 1 hub unreachable, 2 refused.";

#[derive(Debug, Parser)]
#[command(name = "redflag", version, about = "Is this job posting or recruiter message a scam? Why, and how sure?")]
#[command(after_help = EXAMPLES)]
struct Cli {
    /// Use this rules file instead of the built-in rules (same format as models/rules.toml).
    #[arg(long, global = true, env = "REDFLAG_RULES", value_name = "PATH")]
    rules: Option<PathBuf>,

    /// Use the model in this directory (written by `redflag train`) instead of the built-in one.
    #[arg(long, global = true, env = "REDFLAG_MODEL", value_name = "DIR", conflicts_with = "no_model")]
    model: Option<PathBuf>,

    /// Rules only: do not load the local model.
    #[arg(long, global = true)]
    no_model: bool,

    /// The config file (TOML). Default: config.toml in the platform config directory, if it exists.
    #[arg(long, global = true, env = "REDFLAG_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// The database file (history, LLM cache, spend ledger). Default: REDFLAG_DB, else the platform data directory.
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,

    /// Colour in the readable report.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a posting or message: a file (text, HTML, e-mail body, a JSON posting, or a PNG/JPEG/WebP screenshot),
    /// or `-` for standard input.
    #[command(after_help = EXAMPLES)]
    Check(CheckArgs),
    /// List the red-flag rules with their ids, weights and explanations.
    Rules,
    /// Train the local classifier on the shared data and write it, with MODEL_CARD.md, to --out.
    #[cfg(feature = "train")]
    Train(train::TrainArgs),
    /// Measure the analyzer on labelled data: precision, recall, F1, PR-AUC, ROC-AUC, calibration, escalation.
    #[cfg(feature = "train")]
    Eval(eval::EvalArgs),
    /// The checks made on this machine: list, show, delete one or all, export as JSON.
    History(history::HistoryArgs),
    /// What the LLM tier has spent, by day, model and user.
    Cost(cost::CostArgs),
    /// Sync with a Redflag hub: pair once, then pull the scam indicators it publishes (matching stays on this
    /// machine). Exit 0 synced, 1 hub unreachable, 2 refused.
    Sync(sync::SyncArgs),
    /// Tell the hub you are paired with what a check really was: `scam` or `legit`. Sends the redacted text, the
    /// verdict and digests of the numbers and links it held; queued until the next sync when the hub is away.
    Report(sync::ReportArgs),
    /// Show the effective configuration (file + environment), with secrets masked.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every setting in force and where the config file and database are.
    Show,
    /// Switch escalation back on after the endpoint rejected this configuration (401, no quota) and the cause was
    /// fixed without changing the endpoint, model or key.
    EnableEscalation,
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// File to check; `-` or nothing reads standard input.
    #[arg(value_name = "PATH|-")]
    path: Option<PathBuf>,

    /// Print the full analysis as JSON instead of the readable report.
    #[arg(long, conflicts_with = "jsonl")]
    json: bool,

    /// Batch mode: each input line is a JSON object with `id` and `text` (or posting fields); each output line is
    /// that id with its verdict, in input order. Bad lines get an `error` and the batch goes on.
    #[arg(long)]
    jsonl: bool,

    /// Never touch the network: the local verdict only, whatever the configuration says.
    #[arg(long)]
    offline: bool,

    /// When to ask the LLM: `auto` (only inputs the local tiers are unsure of; the default when an endpoint is
    /// configured), `never`, or `always` (for comparisons). Overrides REDFLAG_ESCALATE and the config file.
    #[arg(long, value_name = "POLICY")]
    escalate: Option<redflag::config::Policy>,

    /// Print exactly what would be sent to the LLM (redacted text, request body, cost estimate) and send nothing.
    #[arg(long, conflicts_with = "jsonl")]
    show_outbound: bool,

    /// Charge LLM spending to this user id (for per-user budgets).
    #[arg(long, value_name = "ID")]
    user: Option<String>,

    /// Do not record this check in the history.
    #[arg(long)]
    no_history: bool,
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if sync::is_unreachable(&e) => {
            let _ = writeln!(anstream::stderr(), "redflag: {e:#}");
            ExitCode::from(1)
        }
        Err(e) => {
            let _ = writeln!(anstream::stderr(), "redflag: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.color {
        ColorChoice::Auto => {}
        ColorChoice::Always => anstream::ColorChoice::Always.write_global(),
        ColorChoice::Never => anstream::ColorChoice::Never.write_global(),
    }
    let rules = load_rules(cli.rules.as_deref())?;
    // Only the commands that analyse pay for loading the model (about 100 ms).
    let analyzer = |rules: RuleSet| -> anyhow::Result<Analyzer> {
        let analyzer = Analyzer::new(rules);
        Ok(match &cli.model {
            Some(dir) => analyzer.with_classifier(Box::new(LocalModel::load_dir(dir)?)),
            None if !cli.no_model => analyzer.with_builtin_model()?,
            None => analyzer,
        })
    };
    let config = |policy: Option<redflag::config::Policy>| {
        escalation::load_config(cli.config.as_deref(), cli.db.as_deref(), policy)
    };
    match cli.command {
        Command::Check(args) => {
            // Before anything is read: the input may be an image, and OCR is 8x faster this way (see the function).
            redflag::ocr::limit_openmp_threads();
            let config = config(args.escalate)?;
            let store = check_store(&config, &args);
            // Rules a hub published and this machine synced, when newer than the built-in ones; --rules wins.
            let rules = match (&cli.rules, &store) {
                (None, Some(store)) => escalation::synced_rules(&**store, &rules).unwrap_or(rules),
                _ => rules,
            };
            check(analyzer(rules)?, store, &config, args)
        }
        #[cfg(feature = "train")]
        Command::Eval(args) => eval::run(&analyzer(rules)?, args),
        Command::Rules => report::rules(&rules),
        // Training reads the rules once more for the model card's red-team rows, from where they came.
        #[cfg(feature = "train")]
        Command::Train(args) => train::run(&rules, args, &|| load_rules(cli.rules.as_deref())),
        Command::History(args) => history::run(&*escalation::open_store(&config(None)?)?, args),
        Command::Cost(args) => {
            let config = config(None)?;
            cost::run(&*escalation::open_store(&config)?, &config, args)
        }
        Command::Sync(args) => sync::run(&*escalation::open_store(&config(None)?)?, args),
        Command::Report(args) => sync::report(&*escalation::open_store(&config(None)?)?, args),
        Command::Config { command: ConfigCommand::Show } => outbound::config_show(&config(None)?),
        Command::Config { command: ConfigCommand::EnableEscalation } => {
            let config = config(None)?;
            redflag::check::enable_escalation(&config, &*escalation::open_store(&config)?)?;
            println!("Escalation is on again for {} at {}.", config.llm.model, config.llm.base_url);
            Ok(())
        }
    }
}

impl CheckArgs {
    /// Whether this check goes into the history.
    fn records(&self, config: &redflag::config::Config) -> bool {
        config.history_enabled && !self.no_history && !self.show_outbound
    }
}

/// The database a check uses, opened once: it holds the LLM cache and ledger, the history and what was synced from
/// a hub (indicators, rules). A check still works without it. An existing file is always opened, for what was
/// synced; a new one only when the check records or may escalate.
fn check_store(config: &redflag::config::Config, args: &CheckArgs) -> Option<Arc<dyn redflag::store::Store>> {
    let record = args.records(config);
    let exists = escalation::db_path(config).is_ok_and(|p| p.is_file());
    if !(exists || record || (config.llm_configured && !args.offline && !args.show_outbound)) {
        return None;
    }
    escalation::open_store(config)
        .map_err(|e| tracing::warn!("the Redflag database is unavailable, so nothing is cached or recorded: {e:#}"))
        .ok()
}

fn check(
    analyzer: Analyzer,
    store: Option<Arc<dyn redflag::store::Store>>,
    config: &redflag::config::Config,
    args: CheckArgs,
) -> anyhow::Result<()> {
    let source = read::Source::from_arg(args.path.as_deref())?;
    let record = args.records(config);
    if let Some(store) = &store {
        redflag::check::load_synced_indicators(&analyzer, &**store);
    }
    let checker = Checker::new(Arc::new(analyzer), config, store, args.offline);
    let checker = if record { checker } else { checker.without_history() };
    let plan = escalation::Plan::new(Arc::new(checker), args.user.clone())?;
    if args.jsonl {
        // Batch runs are scripts' work: their JSONL output is the record, so they do not fill the history.
        return batch::run(source, &plan);
    }
    let (mut analysis, page) = match read::read_input(source)? {
        read::ReadInput::Text { input, notes } => {
            let mut analysis = plan.checker().analyze(&input)?;
            analysis.notes.splice(0..0, notes);
            (analysis, None)
        }
        read::ReadInput::Image(bytes) => {
            let (analysis, page) =
                redflag::ocr::analyze_image(&redflag::ocr::Tesseract, &bytes, |input| plan.checker().analyze(input))?;
            (analysis, Some(page))
        }
    };
    if args.show_outbound {
        return outbound::show(config, &analysis);
    }
    plan.apply(&mut analysis);
    if let Some(page) = &page {
        // The LLM's quotes, if it was asked, are placed in the image too.
        redflag::ocr::locate(&mut analysis, page);
    }
    plan.checker().record(&analysis, CheckFor { channel: "cli", user: args.user.as_deref() });
    let mut out = anstream::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &analysis)?;
        writeln!(out)?;
    } else {
        let coloured = out.current_choice() != anstream::ColorChoice::Never;
        report::render(&mut out, &analysis, !coloured)?;
    }
    out.flush()?;
    Ok(())
}

/// The rules file given with `--rules`, or the built-in rules.
fn load_rules(path: Option<&std::path::Path>) -> anyhow::Result<RuleSet> {
    Ok(match path {
        Some(path) => RuleSet::from_path(path)?,
        None => RuleSet::builtin().context("the built-in rules do not compile; this is a bug")?,
    })
}

fn init_tracing() {
    // Logs go to stderr so stdout stays a clean report or JSON stream; quiet unless REDFLAG_LOG asks. The HTML
    // parser warns about every malformed page it repairs (old e-mail is full of them): that is the input's state,
    // not a fault, so it only speaks up on errors.
    let filter = tracing_subscriber::EnvFilter::try_from_env("REDFLAG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,html5ever=error"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Piping into `head` closes stdout early; that is the reader's choice, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        // clap checks its own definitions only when a command is parsed in a debug build; this parses them all.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
