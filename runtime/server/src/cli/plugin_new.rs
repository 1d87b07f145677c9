//! `bosun plugin new` and `bosun plugin build`: scaffold a plugin crate from
//! the SDK's template, and build a crate into a Bosun component.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::outln;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and -, optionally OWNER/NAME.
    pub name: String,
    /// Where to create the crate (default: ./NAME, without the owner).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The bosun-plugin-sdk crate to depend on (default: the sdk/ of this Bosun's source).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin crate (holding Cargo.toml and bosun-plugin.json).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where cargo builds (default: DIR/target).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Where NAME.wasm is written (default: DIR).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

const TEMPLATE_CARGO: &str = include_str!("../../templates/plugin/Cargo.toml.in");
const TEMPLATE_MANIFEST: &str = include_str!("../../templates/plugin/bosun-plugin.json.in");
const TEMPLATE_LIB: &str = include_str!("../../templates/plugin/lib.rs.in");
const TEMPLATE_GITIGNORE: &str = "/target\n/Cargo.lock\n";

fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
    sdk.join("Cargo.toml").is_file().then(|| sdk.canonicalize().unwrap_or(sdk))
}

pub fn new(args: &NewArgs) -> Result<ExitCode, CliError> {
    bosun_plugin_manifest::check_plugin_name(&args.name).map_err(|e| CliError::usage(e.to_string()))?;
    let short = args.name.rsplit('/').next().unwrap_or(&args.name);
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(short));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(CliError::usage(format!("{} exists and is not empty", dir.display())));
    }
    let sdk = match &args.sdk {
        Some(path) => path.clone(),
        None => {
            default_sdk().ok_or_else(|| CliError::usage("cannot find the plugin SDK next to this Bosun; give its directory with --sdk"))?
        }
    };
    let sdk = sdk.canonicalize().map_err(|e| CliError::usage(format!("--sdk {}: {e}", sdk.display())))?;
    if !sdk.join("Cargo.toml").is_file() {
        return Err(CliError::usage(format!("{} holds no Cargo.toml; --sdk names the bosun-plugin-sdk crate", sdk.display())));
    }
    let crate_name = format!("{}-plugin", args.name.replace('/', "-"));
    let sdk_text = sdk.display().to_string();
    let fill = |template: &str| {
        template
            .replace("{{crate}}", &crate_name)
            .replace("{{name}}", &args.name)
            .replace("{{action}}", &format!("plugin:{}", args.name))
            .replace("{{sdk}}", &sdk_text.replace('\\', "\\\\").replace('"', "\\\""))
    };
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))
    };
    std::fs::create_dir_all(dir.join("src")).map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    write(dir.join("Cargo.toml"), fill(TEMPLATE_CARGO))?;
    write(dir.join("bosun-plugin.json"), fill(TEMPLATE_MANIFEST))?;
    write(dir.join("src/lib.rs"), fill(TEMPLATE_LIB))?;
    write(dir.join(".gitignore"), TEMPLATE_GITIGNORE.to_string())?;
    outln!("created plugin {} in {}", args.name, dir.display());
    outln!("next:");
    outln!("  (cd {} && cargo test)        # unit tests, natively", dir.display());
    outln!("  bosun plugin build {}        # builds {}/{}.wasm", dir.display(), dir.display(), args.name.replace('/', "-"));
    Ok(ExitCode::SUCCESS)
}

pub fn build(args: &BuildArgs) -> Result<ExitCode, CliError> {
    let target_dir = args.target_dir.clone().unwrap_or_else(|| args.dir.join("target"));
    let out_dir = args.out_dir.clone().unwrap_or_else(|| args.dir.clone());
    let mut options = bosun_plugin_build::BuildOptions::new(target_dir, out_dir);
    options.echo_stderr = true;
    let built = bosun_plugin_build::build(&args.dir, &options).map_err(|e| CliError::failed(e.to_string()))?;
    outln!("built {} {} -> {}", built.manifest.name, built.manifest.version, built.path.display());
    Ok(ExitCode::SUCCESS)
}
