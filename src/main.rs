//! The `wsgiprobe` binary: parse, run, map the result to an exit code.

fn main() {
    let cli = wsgiprobe::cli::parse();
    let code = match wsgiprobe::run(cli) {
        Ok(exit) => exit.code(),
        Err(e) => {
            eprintln!("wsgiprobe: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            wsgiprobe::Exit::Harness.code()
        }
    };
    wsgiprobe::gateway::exit_if_interrupted();
    std::process::exit(code);
}
