//! Redflag's desktop app (Tauri 2), for job seekers: paste a posting or a recruiter's message and see the verdict,
//! the red flags highlighted in their own text, and what to do, offline (issue #6).
//!
//! Until that issue lands this crate is a placeholder that links the shared `redflag` core, so the workspace layout
//! (core, desktop, bridge) is in place and builds from the start.

fn main() {
    let rules = redflag::RuleSet::builtin().map(|r| r.rules().count()).unwrap_or_default();
    eprintln!("redflag-desktop: the desktop app is not built yet (issue #6); the core has {rules} rules loaded.");
}
