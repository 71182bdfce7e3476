//! The `wsgiprobe` binary: the command line of the process, run by
//! [`wsgiprobe::main_from`], its result as the exit code.

fn main() {
    std::process::exit(wsgiprobe::main_from(std::env::args_os()));
}
