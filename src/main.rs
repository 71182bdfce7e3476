//! The `wsgiprobe` binary: parse, run, map the result to an exit code.

fn main() {
    let cli = wsgiprobe::cli::parse();
    let result = wsgiprobe::run(cli);
    // A signal outranks whatever the run came to: an error it returned is
    // most likely the signal's doing (its server was stopped under it).
    if let Some(signal) = wsgiprobe::gateway::interrupted() {
        wsgiprobe::gateway::remove_registered_folders();
        wsgiprobe::commands::events::interrupted(signal);
        std::process::exit(signal.exit_code());
    }
    let code = match result {
        Ok(exit) => exit.code(),
        Err(e) => {
            eprintln!("wsgiprobe: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            wsgiprobe::Exit::Harness.code()
        }
    };
    std::process::exit(code);
}
