//! Redflag's desktop app (Tauri 2), for job seekers: paste a posting or a recruiter's message and see the verdict,
//! the red flags highlighted in their own text, and what to do, offline.
//!
//! The app is a thin shell around the `redflag` core: [`state::Desktop`] holds the analyser (loaded once), the
//! configuration and the store the CLI uses too; [`commands`] are small adapters the static page in `ui/` calls
//! through one JS module. [`app`] is generic over the runtime so the command tests run it on Tauri's mock runtime,
//! and the end-to-end test drives the real binary through WebKitWebDriver.

pub mod commands;
pub mod error;
pub mod files;
pub mod paired;
pub mod secrets;
pub mod settings;
pub mod state;

pub use error::{Error, Result};
pub use state::Desktop;

use tauri::{Builder, Runtime};

/// The app on any runtime: `desktop` managed as state and every command registered once.
pub fn app<R: Runtime>(builder: Builder<R>, desktop: Desktop) -> Builder<R> {
    use commands::{ai, analyze, history, settings, sync};
    let builder = builder.setup(|app| {
        sync::background(app.handle());
        Ok(())
    });
    builder.manage(desktop).invoke_handler(tauri::generate_handler![
        analyze::analyze_text,
        analyze::analyze_file,
        analyze::analyze_clipboard,
        ai::ai_preview,
        ai::ai_ask,
        ai::ai_cancel,
        history::history_list,
        history::history_get,
        history::history_delete,
        history::history_clear,
        history::history_export,
        settings::settings_get,
        settings::settings_save,
        settings::api_key_set,
        settings::api_key_clear,
        sync::sync_status,
        sync::sync_pair,
        sync::sync_now,
        sync::report_check,
    ])
}

/// Start the app; `main` calls this. Logs go to stderr, quiet unless `REDFLAG_LOG` asks.
pub fn run() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("REDFLAG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let desktop = match Desktop::from_env() {
        Ok(d) => d,
        Err(e) => {
            // Before a window exists there is nowhere else to say it.
            eprintln!("redflag-desktop: cannot start: {e:#}");
            std::process::exit(1);
        }
    };
    desktop.warm_up();
    if let Err(e) = app(tauri::Builder::default(), desktop).run(tauri::generate_context!()) {
        eprintln!("redflag-desktop: the window could not be opened: {e}");
        std::process::exit(1);
    }
}
