//! `redflag-bridge`: parse the command line, set up logging, run. Everything else is in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = redflag_bridge::cli::Cli::parse();
    if matches!(cli.command, redflag_bridge::cli::Command::Serve) {
        // Screenshots are read on the analysis threads, one Tesseract engine each: one OpenMP thread per engine,
        // or every image would fight the others for all the cores (this runs the program again, once).
        redflag::ocr::limit_openmp_threads();
    }
    // Logs go to stderr; stdout carries only what a command prints for scripts (keys, the listening line).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match redflag_bridge::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redflag-bridge: {e:#}");
            ExitCode::from(2)
        }
    }
}
