//! `train`: fetch MNIST, train, evaluate and benchmark digit CNNs. Parses arguments ([`args`]),
//! calls the library through one function per command (grouped by stage in [`data`], [`fit`]
//! and [`ship`]), prints results on standard output and the error chain on standard error.

mod args;
mod data;
mod fit;
mod progress;
mod ship;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use train::data::fetch;
use train::data::mnist::{self, Mnist};

use args::{Cli, Command, DataArg};
use data::*;
use fit::*;
use ship::*;

/// Folder MNIST is read from when neither --data nor MNIST_DIR says otherwise.
pub const DEFAULT_DATA: &str = "data/mnist";

fn main() -> ExitCode {
    edge::out::logs_to_stderr();
    exit_on_sigterm();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Exits at once on SIGTERM, as any program does outside a container: as a container's first
/// process `train` would otherwise ignore it, and a preempted pod would wait out its grace
/// period for SIGKILL. Nothing is lost: files are written whole under a temporary name, and
/// `--resume` carries on from the last epoch's checkpoint. The exit status is the usual 143
/// (killed by SIGTERM), so a Kubernetes Job counts the pod failed and starts it again.
fn exit_on_sigterm() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])
    else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("sigterm".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                tracing::warn!("SIGTERM: stopping; the last checkpoint is kept for --resume");
                std::process::exit(143);
            }
        });
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Fetch(args) => fetch(args),
        Command::Train(args) => train_command(args),
        Command::Eval(args) => eval(args),
        Command::Latency(args) => latency(args),
        Command::Bench(args) => bench(args),
        Command::Publish(args) => publish(args),
        Command::Export(args) => export(args),
        Command::Verify(args) => verify(args),
        Command::Scenes(args) => scenes(args),
        Command::Prune(args) => prune(args),
        Command::Pipeline(args) => pipeline(args),
        Command::Quantize(args) => quantize(args),
        Command::CameraDigits(args) => camera_digits(args),
        Command::Archs(args) => archs(args),
    }
}

/// Loads MNIST from --data, MNIST_DIR or the default folder; the default folder is filled
/// from the public mirrors when it holds none of the files (a fresh machine).
pub fn load_data(arg: DataArg) -> Result<Mnist> {
    let (dir, is_default) = match arg.data {
        Some(d) => (d, false),
        None => (PathBuf::from(DEFAULT_DATA), true),
    };
    if is_default && mnist::is_absent(&dir) {
        tracing::info!("no MNIST in {}: downloading it", dir.display());
        fetch::fetch(&dir, &fetch::mirrors(), &progress::Bars).context("fetching MNIST")?;
    }
    Ok(mnist::load(&dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Each subcommand's help opens with its own line: `prune` once showed the line meant for
    /// `archs`, and `archs` had none.
    #[test]
    fn issue17_every_subcommand_has_its_own_help_line() {
        let cli = Cli::command();
        let about = |name: &str| {
            cli.find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(|a| a.to_string())
                .unwrap_or_default()
        };
        assert!(about("prune").starts_with("Remove the weakest filters"));
        assert!(about("archs").starts_with("Parameters and multiply-accumulates"));
        let mut seen = std::collections::HashSet::new();
        for sub in cli.get_subcommands() {
            let line = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(
                !line.is_empty(),
                "`train {}` has no help line",
                sub.get_name()
            );
            assert!(
                seen.insert(line),
                "`train {}` repeats a help line",
                sub.get_name()
            );
        }
    }
}
