//! The `stagewatch` binary: a thin shell around [`stagewatch::cli`].

fn main() -> std::process::ExitCode {
    stagewatch::cli::main()
}
