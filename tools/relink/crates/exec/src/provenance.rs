//! Signed provenance of shared action results.
//!
//! Every result relink uploads carries an in-toto Statement (SLSA provenance v1 predicate:
//! the action key, mnemonic, target, argv, every input by digest, the builder) whose subjects
//! are the output files by BLAKE3 digest, signed with ed25519 in a DSSE envelope. A remote
//! result is accepted only if a key the workspace trusts signed it, for an action that key may
//! provide, and its subjects are exactly the result's outputs; anything else is refused and the
//! action runs here.
//!
//! Keys: this user's signing key (`$XDG_CONFIG_HOME/relink/signing-key`, made on first use) is
//! trusted unless the workspace's `.relink/trust.json` says `"trust_own_key": false`; that file
//! lists more keys: `{"keys": [{"name": "ci", "public_key": "<hex>", "targets": ["//..."],
//! "mnemonics": ["RustCompile"]}]}` (`targets`: label patterns, default every target;
//! `mnemonics`: default every kind). `"require_audit": "safe-to-deploy"` (any cargo-vet
//! criterion) also refuses pre-compiled results of a vendored crates.io crate unless the
//! workspace's cargo-vet store (`supply-chain/`) certifies that crate version for it; the
//! crate is then built here from its checked source.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier, VerifyingKey};
use serde::Deserialize;
use serde_json::json;

use super::cache::OutputFile;
use super::vet::{self, VetStore};
use relink_core::digest::hex;

/// The DSSE payload type of in-toto statements.
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The build type of relink's provenance predicate.
const BUILD_TYPE: &str = "https://github.com/rules_relink/relink/action/v1";

/// What provenance says about one action besides its outputs.
pub struct ActionMeta<'a> {
    pub key: &'a str,
    pub mnemonic: &'a str,
    pub target: &'a str,
    pub argv: &'a [String],
    /// Input path -> BLAKE3 digest.
    pub inputs: &'a BTreeMap<String, String>,
    /// Where a remote executor ran it (server and worker); `None` when it ran here.
    pub executed_by: Option<&'a str>,
}

/// This user's signing key.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// The key in `path`, created (mode 0600) if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Signer> {
        if let Ok(text) = fs_err::read_to_string(path) {
            let seed =
                decode_hex32(text.trim()).with_context(|| format!("{}: not an ed25519 seed in hex", path.display()))?;
            return Ok(Signer { key: SigningKey::from_bytes(&seed) });
        }
        let key = SigningKey::generate(&mut rand_core::OsRng);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            writeln!(f, "{}", hex(&key.to_bytes()))?;
        }
        fs_err::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Signer { key })
    }

    /// Where this user's key lives by default.
    pub fn default_path() -> PathBuf {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".config"));
        config.join("relink/signing-key")
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex(self.key.verifying_key().as_bytes())
    }

    /// A DSSE envelope over the provenance statement of an action and its outputs.
    pub fn sign(&self, meta: &ActionMeta, outputs: &[OutputFile]) -> Vec<u8> {
        let builder = match meta.executed_by {
            Some(remote) => format!("{} (executed by {remote})", builder_id()),
            None => builder_id().to_string(),
        };
        let statement = statement(meta, outputs, &builder);
        let payload = serde_json::to_vec(&statement).expect("serializable");
        let signature = self.key.sign(&pae(&payload));
        serde_json::to_vec(&json!({
            "payloadType": PAYLOAD_TYPE,
            "payload": B64.encode(&payload),
            "signatures": [{"keyid": self.public_hex(), "sig": B64.encode(signature.to_bytes())}],
        }))
        .expect("serializable")
    }
}

/// Who built it: relink's version and this machine.
fn builder_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let host = fs_err::read_to_string("/etc/hostname").unwrap_or_default();
        format!("relink {} on {}", env!("CARGO_PKG_VERSION"), host.trim())
    })
}

fn statement(meta: &ActionMeta, outputs: &[OutputFile], builder: &str) -> serde_json::Value {
    let subject: Vec<_> = outputs.iter().map(|f| json!({"name": f.path, "digest": {"blake3": f.digest}})).collect();
    let inputs: Vec<_> = meta.inputs.iter().map(|(p, d)| json!({"name": p, "digest": {"blake3": d}})).collect();
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"action_key": meta.key, "mnemonic": meta.mnemonic, "target": meta.target, "argv": meta.argv},
                "resolvedDependencies": inputs,
            },
            "runDetails": {"builder": {"id": builder}},
        },
    })
}

/// DSSE's pre-authentication encoding.
fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", PAYLOAD_TYPE.len(), PAYLOAD_TYPE, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

#[derive(Deserialize)]
struct PolicyFile {
    #[serde(default)]
    keys: Vec<PolicyKey>,
    #[serde(default = "yes")]
    trust_own_key: bool,
    #[serde(default)]
    require_audit: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct PolicyKey {
    name: String,
    public_key: String,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    mnemonics: Vec<String>,
}

struct TrustedKey {
    name: String,
    key: VerifyingKey,
    targets: Vec<String>,
    mnemonics: Vec<String>,
}

/// Which keys may provide which results, and which crates need an audit first.
pub struct TrustPolicy {
    keys: Vec<TrustedKey>,
    /// The cargo-vet criterion a vendored crate's results need, and the store to check.
    require_audit: Option<(String, VetStore)>,
    workspace_root: PathBuf,
}

/// Where a workspace's trust policy lives.
pub const POLICY_FILE: &str = ".relink/trust.json";

impl TrustPolicy {
    /// The workspace's policy (`.relink/trust.json`), plus `own` unless it says not to.
    pub fn load(workspace_root: &Path, own: &Signer) -> Result<TrustPolicy> {
        let path = workspace_root.join(POLICY_FILE);
        let file: PolicyFile = match fs_err::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                anyhow!("{}:{}: {e} (expected {{\"keys\": [{{\"name\", \"public_key\", \"targets\", \"mnemonics\"}}], \"trust_own_key\", \"require_audit\"}})", path.display(), e.line())
            })?,
            Err(_) => PolicyFile { keys: Vec::new(), trust_own_key: true, require_audit: None },
        };
        let mut keys = Vec::new();
        if file.trust_own_key {
            keys.push(TrustedKey {
                name: "this user".into(),
                key: own.key.verifying_key(),
                targets: Vec::new(),
                mnemonics: Vec::new(),
            });
        }
        for k in file.keys {
            let bytes = decode_hex32(&k.public_key)
                .with_context(|| format!("{}: key `{}`: public_key must be 64 hex digits", path.display(), k.name))?;
            let key =
                VerifyingKey::from_bytes(&bytes).map_err(|e| anyhow!("{}: key `{}`: {e}", path.display(), k.name))?;
            keys.push(TrustedKey { name: k.name, key, targets: k.targets, mnemonics: k.mnemonics });
        }
        let require_audit = match file.require_audit {
            Some(criterion) => Some((criterion, VetStore::load(workspace_root)?)),
            None => None,
        };
        Ok(TrustPolicy { keys, require_audit, workspace_root: workspace_root.to_path_buf() })
    }

    /// With `require_audit`, a vendored crate's result needs a cargo-vet audit of its version.
    fn check_audit(&self, target: &str) -> Result<()> {
        let Some((criterion, store)) = &self.require_audit else { return Ok(()) };
        let Some((name, version)) = vet::vendored_package(&self.workspace_root, target) else { return Ok(()) };
        store
            .check(&name, &version, criterion)
            .map_err(|why| anyhow!("unaudited crate: {why} (`require_audit` in {POLICY_FILE})"))
    }

    /// Accept `envelope` for the action of `meta` with `outputs`: the name of the key that
    /// signed it, or why it is refused.
    pub fn verify(&self, envelope: Option<&[u8]>, meta: &ActionMeta, outputs: &[OutputFile]) -> Result<String> {
        self.check_audit(meta.target)?;
        let (envelope, payload) = open_envelope(envelope.ok_or_else(|| anyhow!("unsigned"))?)?;
        let mut why = "signed by no trusted key".to_string();
        let mut signer = None;
        for sig in envelope["signatures"].as_array().into_iter().flatten() {
            let keyid = sig["keyid"].as_str().unwrap_or_default();
            let Some(trusted) = self.keys.iter().find(|k| hex(k.key.as_bytes()) == keyid) else {
                // A key id comes from the server: not necessarily hex, so cut by characters.
                why = format!("signed by untrusted key {}", keyid.chars().take(16).collect::<String>());
                continue;
            };
            let bytes = B64.decode(sig["sig"].as_str().unwrap_or_default()).unwrap_or_default();
            let Ok(signature) = Signature::from_slice(&bytes) else { continue };
            if trusted.key.verify(&pae(&payload), &signature).is_err() {
                why = format!("the signature of `{}` does not match the statement (tampered)", trusted.name);
                continue;
            }
            if !allows(&trusted.targets, meta.target)
                || !(trusted.mnemonics.is_empty() || trusted.mnemonics.iter().any(|m| m == meta.mnemonic))
            {
                why = format!("`{}` may not provide {} of {}", trusted.name, meta.mnemonic, meta.target);
                continue;
            }
            signer = Some(trusted.name.clone());
            break;
        }
        let signer = signer.ok_or_else(|| anyhow!("{why}"))?;
        let statement: serde_json::Value = serde_json::from_slice(&payload).context("unreadable statement")?;
        if statement["predicate"]["buildDefinition"]["externalParameters"]["action_key"] != meta.key {
            bail!("the statement signed by `{signer}` is about another action");
        }
        let signed: BTreeMap<&str, &str> = statement["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (s["name"].as_str().unwrap_or_default(), s["digest"]["blake3"].as_str().unwrap_or_default()))
            .collect();
        let served: BTreeMap<&str, &str> = outputs.iter().map(|f| (f.path.as_str(), f.digest.as_str())).collect();
        if signed != served {
            bail!("its outputs are not the ones `{signer}` signed (tampered)");
        }
        Ok(signer)
    }
}

/// A DSSE envelope of an in-toto statement, and its decoded payload (not yet verified).
fn open_envelope(bytes: &[u8]) -> Result<(serde_json::Value, Vec<u8>)> {
    let envelope: serde_json::Value = serde_json::from_slice(bytes).context("unreadable signature envelope")?;
    if envelope["payloadType"] != PAYLOAD_TYPE {
        bail!("not an in-toto statement");
    }
    let payload = B64.decode(envelope["payload"].as_str().unwrap_or_default()).context("payload is not base64")?;
    Ok((envelope, payload))
}

/// `NAME blake3:DIGEST` of a subject or dependency of a statement.
fn named_digest(v: &serde_json::Value) -> String {
    format!("{} blake3:{}", v["name"].as_str().unwrap_or("?"), v["digest"]["blake3"].as_str().unwrap_or("?"))
}

/// A readable account of a signed statement: signer, builder, outputs, the workspace sources
/// and toolchain files by digest, and the command line.
pub fn describe(envelope: &[u8]) -> Result<String> {
    use std::fmt::Write;
    let (envelope, payload) = open_envelope(envelope)?;
    let statement: serde_json::Value = serde_json::from_slice(&payload).context("unreadable statement")?;
    let keyids: Vec<&str> =
        envelope["signatures"].as_array().into_iter().flatten().filter_map(|s| s["keyid"].as_str()).collect();
    let def = &statement["predicate"]["buildDefinition"];
    let mut out = String::new();
    writeln!(out, "  signed by key {}", keyids.join(", "))?;
    writeln!(out, "  builder: {}", statement["predicate"]["runDetails"]["builder"]["id"].as_str().unwrap_or("?"))?;
    for s in statement["subject"].as_array().into_iter().flatten() {
        writeln!(out, "  output  {}", named_digest(s))?;
    }
    let deps: Vec<&serde_json::Value> = def["resolvedDependencies"].as_array().into_iter().flatten().collect();
    let (toolchain, others): (Vec<&&serde_json::Value>, Vec<&&serde_json::Value>) =
        deps.iter().partition(|d| d["name"].as_str().is_some_and(|n| n.starts_with("external/relink_toolchain/")));
    for d in others.iter().filter(|d| !d["name"].as_str().unwrap_or_default().starts_with("relink-out/")) {
        writeln!(out, "  source  {}", named_digest(d))?;
    }
    let derived = others.iter().filter(|d| d["name"].as_str().unwrap_or_default().starts_with("relink-out/")).count();
    writeln!(out, "  inputs built by other actions: {derived}; toolchain files: {}", toolchain.len())?;
    if let Some(v) = toolchain.iter().find(|d| d["name"].as_str().is_some_and(|n| n.ends_with("/rustc_version.txt"))) {
        writeln!(out, "  toolchain  rustc_version.txt blake3:{}", v["digest"]["blake3"].as_str().unwrap_or("?"))?;
    }
    let argv: Vec<&str> =
        def["externalParameters"]["argv"].as_array().into_iter().flatten().filter_map(|a| a.as_str()).collect();
    writeln!(out, "  command  {}", argv.join(" "))?;
    Ok(out)
}

/// Whether label patterns (`//...`, `//pkg/...`, `//pkg:name`; none: every target) cover `target`.
fn allows(patterns: &[String], target: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix("...") {
            Some(prefix) => target.starts_with(prefix.trim_end_matches('/')),
            None => p == target,
        })
}

fn decode_hex32(text: &str) -> Result<[u8; 32]> {
    if text.len() != 64 {
        bail!("expected 64 hex digits, got {}", text.len());
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(chunk)?, 16)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta<'a>(inputs: &'a BTreeMap<String, String>, argv: &'a [String]) -> ActionMeta<'a> {
        ActionMeta { key: "k1", mnemonic: "RustCompile", target: "//a:a", argv, inputs, executed_by: None }
    }

    #[test]
    fn only_trusted_untampered_results_for_allowed_targets_are_accepted() {
        let dir = std::env::temp_dir().join(format!("provenance-{}", std::process::id()));
        let own = Signer::load_or_create(&dir.join("own")).unwrap();
        let other = Signer::load_or_create(&dir.join("other")).unwrap();
        assert_eq!(Signer::load_or_create(&dir.join("own")).unwrap().public_hex(), own.public_hex());
        let inputs = BTreeMap::from([("a/lib.rs".to_string(), "d1".to_string())]);
        let argv = vec!["rustc".to_string()];
        let outputs = vec![OutputFile { path: "out/liba.rlib".into(), digest: "o1".into(), executable: false }];
        let policy = TrustPolicy::load(&dir, &own).unwrap();
        let signed = own.sign(&meta(&inputs, &argv), &outputs);
        assert_eq!(policy.verify(Some(&signed), &meta(&inputs, &argv), &outputs).unwrap(), "this user");
        let refuse = |env: Option<&[u8]>, outs: &[OutputFile]| {
            policy.verify(env, &meta(&inputs, &argv), outs).unwrap_err().to_string()
        };
        assert_eq!(refuse(None, &outputs), "unsigned");
        assert!(refuse(Some(&other.sign(&meta(&inputs, &argv), &outputs)), &outputs).contains("untrusted key"));
        // A key id that is not hex (multi-byte characters around the cut) is refused, not a panic.
        let mut odd: serde_json::Value = serde_json::from_slice(&signed).unwrap();
        odd["signatures"][0]["keyid"] = json!(format!("a{}", "é".repeat(16)));
        let expected = format!("untrusted key a{}", "é".repeat(15));
        assert!(refuse(Some(&serde_json::to_vec(&odd).unwrap()), &outputs).contains(&expected));
        let swapped = vec![OutputFile { digest: "o2".into(), ..outputs[0].clone() }];
        assert!(refuse(Some(&signed), &swapped).contains("tampered"));
        // The statement edited after signing (another output digest), the signature kept.
        let mut envelope: serde_json::Value = serde_json::from_slice(&signed).unwrap();
        let payload = String::from_utf8(B64.decode(envelope["payload"].as_str().unwrap()).unwrap()).unwrap();
        envelope["payload"] = json!(B64.encode(payload.replace("\"o1\"", "\"o2\"")));
        let forged = serde_json::to_vec(&envelope).unwrap();
        assert!(refuse(Some(&forged), &swapped).contains("does not match the statement"));

        // A workspace policy: another key, only for third-party targets.
        fs_err::create_dir_all(dir.join(".relink")).unwrap();
        fs_err::write(
            dir.join(POLICY_FILE),
            format!(r#"{{"keys": [{{"name": "ci", "public_key": "{}", "targets": ["//third_party/..."]}}], "trust_own_key": false}}"#, other.public_hex()),
        )
        .unwrap();
        let policy = TrustPolicy::load(&dir, &own).unwrap();
        let by_ci = other.sign(&meta(&inputs, &argv), &outputs);
        assert!(policy
            .verify(Some(&by_ci), &meta(&inputs, &argv), &outputs)
            .unwrap_err()
            .to_string()
            .contains("may not provide"));
        let third = ActionMeta { target: "//third_party/crates/x:x", ..meta(&inputs, &argv) };
        assert_eq!(policy.verify(Some(&other.sign(&third, &outputs)), &third, &outputs).unwrap(), "ci");
        assert!(policy.verify(Some(&signed), &meta(&inputs, &argv), &outputs).is_err(), "own key no longer trusted");
        let _ = fs_err::remove_dir_all(dir);
    }
}
