//! `redflag-bridge`: the companion server that will receive Twilio WhatsApp/SMS webhooks, Telegram updates and API
//! calls, queue them durably in SQLite, analyse them with the shared `redflag` core and reply (issue #5).
//!
//! Until that issue lands the binary only reports what the core would answer for text on stdin, so operators can
//! see that the crate links against the same analysis core as the CLI.

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("redflag-bridge: cannot read standard input: {e}");
        return ExitCode::from(2);
    }
    eprintln!("redflag-bridge: the webhook server is not built yet (issue #5); analysing standard input once.");
    match redflag::Analyzer::builtin().and_then(|a| a.analyze(&redflag::Input::Text(text))) {
        Ok(analysis) => {
            println!("{}: {}", analysis.label.words(), analysis.summary);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("redflag-bridge: {e}");
            ExitCode::from(2)
        }
    }
}
