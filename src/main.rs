//! The `redflag` command: checks job postings and recruiter messages for scams from the terminal, one at a time or
//! in batches. All the work happens in the `redflag` library; this binary parses arguments and prints.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
