//! Argument parsing and dispatch for the `redflag` binary. The command names, flags, output shapes and exit codes
//! are a contract other tools and tests rely on: 0 when the input was analysed (whatever the verdict), 2 for a
//! usage error or an input that cannot be read.

mod batch;
mod card;
mod eval;
mod plot;
mod read;
mod report;
mod train;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use redflag::{Analyzer, LocalModel, RuleSet};

const EXAMPLES: &str = "\
Examples:
  redflag check examples/task-scam-whatsapp.txt
  pbpaste | redflag check -
  redflag check --json posting.html
  redflag check --jsonl batch.jsonl > verdicts.jsonl
  redflag rules

Exit codes: 0 analysed (whatever the verdict), 2 usage error or unreadable input.";

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
    /// Check a posting or message: a file (text, HTML, e-mail body, or a JSON posting), or `-` for standard input.
    #[command(after_help = EXAMPLES)]
    Check(CheckArgs),
    /// List the red-flag rules with their ids, weights and explanations.
    Rules,
    /// Train the local classifier on the shared data and write it, with MODEL_CARD.md, to --out.
    Train(train::TrainArgs),
    /// Measure the analyzer on labelled data: precision, recall, F1, PR-AUC, ROC-AUC, calibration, escalation.
    Eval(eval::EvalArgs),
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

    /// Never touch the network. (This build analyses locally only; the flag is accepted so scripts can pin it.)
    #[arg(long)]
    offline: bool,
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
    let rules = match &cli.rules {
        Some(path) => RuleSet::from_path(path)?,
        None => RuleSet::builtin().context("the built-in rules do not compile; this is a bug")?,
    };
    // Only the commands that analyse pay for loading the model (about 100 ms).
    let analyzer = |rules: RuleSet| -> anyhow::Result<Analyzer> {
        let analyzer = Analyzer::new(rules);
        Ok(match &cli.model {
            Some(dir) => analyzer.with_classifier(Box::new(LocalModel::load_dir(dir)?)),
            None if !cli.no_model => analyzer.with_builtin_model()?,
            None => analyzer,
        })
    };
    match cli.command {
        Command::Check(args) => check(&analyzer(rules)?, args),
        Command::Eval(args) => eval::run(&analyzer(rules)?, args),
        Command::Rules => report::rules(&rules),
        Command::Train(args) => train::run(&rules, args),
    }
}

fn check(analyzer: &Analyzer, args: CheckArgs) -> anyhow::Result<()> {
    // The local tiers never use the network; `--offline` matters once escalation exists.
    let _ = args.offline;
    let source = read::Source::from_arg(args.path.as_deref())?;
    if args.jsonl {
        return batch::run(analyzer, source);
    }
    let read = read::read_input(source)?;
    let mut analysis = analyzer.analyze(&read.input)?;
    analysis.notes.splice(0..0, read.notes);
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

fn init_tracing() {
    // Logs go to stderr so stdout stays a clean report or JSON stream; quiet unless REDFLAG_LOG asks.
    let filter = tracing_subscriber::EnvFilter::try_from_env("REDFLAG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Piping into `head` closes stdout early; that is the reader's choice, not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
