//! Unit tests of the remote client (no server).

use super::*;

#[test]
fn a_tree_lists_the_files_it_was_built_from() {
    let dir = std::env::temp_dir().join(format!("remote-tree-{}", std::process::id()));
    let cache = Cache::open(dir.clone()).unwrap();
    let a = cache.store_bytes(b"a", false).unwrap();
    let b = cache.store_bytes(b"bb", true).unwrap();
    let files = [
        OutputFile { path: "out/d/x/a.o".into(), digest: a.clone(), executable: false },
        OutputFile { path: "out/d/b".into(), digest: b.clone(), executable: true },
    ];
    let refs: Vec<&OutputFile> = files.iter().collect();
    let b3 = DigestFunction::Blake3;
    let file_digest = |f: &OutputFile| {
        let size = fs_err::metadata(cache.blob_path(&f.digest, f.executable))?.len();
        Ok(re::Digest { hash: f.digest.clone(), size_bytes: size as i64 })
    };
    let tree = build_tree("out/d", &refs, file_digest, b3).unwrap();
    let mut listed = tree_files("out/d", &tree, b3).unwrap();
    listed.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        listed,
        vec![
            ("out/d/b".to_string(), re::Digest { hash: b, size_bytes: 2 }, true),
            ("out/d/x/a.o".to_string(), re::Digest { hash: a, size_bytes: 1 }, false),
        ]
    );
    let _ = fs_err::remove_dir_all(dir);
}

#[test]
fn the_remote_action_is_a_function_of_the_key() {
    let none = re::Platform::default();
    let b3 = DigestFunction::Blake3;
    assert_eq!(remote_action("k1", &none, b3).0, remote_action("k1", &none, b3).0);
    assert_ne!(remote_action("k1", &none, b3).0, remote_action("k2", &none, b3).0);
    let linux =
        re::Platform { properties: vec![re::platform::Property { name: "OSFamily".into(), value: "Linux".into() }] };
    assert_ne!(remote_action("k1", &none, b3).0, remote_action("k1", &linux, b3).0);
}

#[test]
fn a_blob_two_actions_miss_is_uploaded_once_and_the_other_waits_for_it() {
    let ledger = std::sync::Arc::new(UploadLedger::default());
    let d = |h: &str| re::Digest { hash: h.into(), size_bytes: 1 };
    let (mine, theirs) = ledger.claim(vec![d("a"), d("b")]);
    assert_eq!(mine.len(), 2);
    assert!(theirs.is_empty());
    let (second, waits) = ledger.claim(vec![d("a"), d("c")]);
    assert_eq!(second.iter().map(|d| d.hash.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(waits, ["a"]);
    let waiter = {
        let ledger = ledger.clone();
        std::thread::spawn(move || ledger.wait_for(&waits))
    };
    ledger.finish(&mine, true);
    waiter.join().unwrap().unwrap();
    assert!(ledger.is_present("a") && ledger.is_present("b") && !ledger.is_present("c"));
    // A failed upload is not present: whoever waited for it hears so, the next caller retries.
    ledger.finish(&second, false);
    let (retry, _) = ledger.claim(vec![d("c")]);
    assert_eq!(retry.len(), 1);
    let (_, waits) = ledger.claim(vec![d("c")]);
    ledger.finish(&retry, false);
    assert!(ledger.wait_for(&waits).unwrap_err().to_string().contains("by another action failed"));
}

#[test]
fn sha256_digests_and_resource_names_follow_the_api() {
    let sha = DigestFunction::Sha256;
    assert_eq!(sha.hash(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(sha.resource_segment(), "", "SHA256 resource names carry no function");
    assert_eq!(DigestFunction::Blake3.resource_segment(), "blake3/");
    assert_eq!(DigestFunction::Blake3.hash(b"abc"), digest_bytes(b"abc"));
    assert_eq!(DigestFunction::parse("SHA256").unwrap(), sha);
    assert!(DigestFunction::parse("md5").is_err());
    // The remote action's digests change with the function, so entries never mix.
    let none = re::Platform::default();
    assert_ne!(remote_action("k", &none, sha).0.hash, remote_action("k", &none, DigestFunction::Blake3).0.hash);
}
