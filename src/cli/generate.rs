//! `groupsms generate` (hidden): man pages and shell completions from the clap definitions,
//! for packaging (`packaging/build-deb` runs the release binary), so they cannot drift from
//! the real command line.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;

use super::{Cli, Failure};

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Write groupsms.1 and one page per subcommand (groupsms-send.1, ...) into DIR.
    Man {
        /// The directory to write to (created if missing).
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on standard output.
    Completions {
        /// bash (install as /usr/share/bash-completion/completions/groupsms), zsh
        /// (/usr/share/zsh/vendor-completions/_groupsms) or fish
        /// (/usr/share/fish/vendor_completions.d/groupsms.fish); also elvish, powershell.
        shell: Shell,
    },
}

pub fn run(cmd: GenerateCommand) -> Result<(), Failure> {
    match cmd {
        GenerateCommand::Man { dir } => man_pages(&dir),
        GenerateCommand::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "groupsms", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Every visible command and subcommand, depth first: (page name, command).
fn pages(cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    out.push((name, cmd.clone()));
    // clap's own `help` subcommand gets no page of its own.
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        pages(sub, out);
    }
}

fn man_pages(dir: &Path) -> Result<(), Failure> {
    let fail = |path: &Path, e: std::io::Error| {
        Failure::bad_input(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let mut command = Cli::command();
    // Builds the tree: subcommands get their display names ("groupsms-send") and the global
    // options.
    command.build();
    let mut all = Vec::new();
    pages(&command, &mut all);
    for (name, cmd) in all {
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| fail(&path, e))?;
        std::fs::write(&path, page).map_err(|e| fail(&path, e))?;
    }
    Ok(())
}
