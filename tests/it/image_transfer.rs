//! Images beside the log: backup, restore, export and import carry every blob byte for byte,
//! each checked against its hash; `verify` names a damaged blob; an import without the bytes
//! an image event names is refused and leaves the log untouched.

use serde_json::json;

use crate::cli::{code, json, morgue};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images").join(name)
}

/// Uploads `name` from the fixture images into the archive at `data`, directly.
fn upload(data: &std::path::Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let archive = morgue::archive::Archive::open(data, 1 << 30).unwrap();
    let upload =
        morgue::archive::Upload { bytes: bytes.clone(), filename: Some(name.into()), ..Default::default() };
    let written = crate::support::runtime()
        .block_on(archive.upload_image(Some("desk"), upload, Default::default()))
        .unwrap();
    assert!(!written.replayed);
    archive.close();
    bytes
}

fn blob_path(root: &std::path::Path, bytes: &[u8]) -> std::path::PathBuf {
    let hash = blake3::hash(bytes).to_hex().to_string();
    root.join(&hash[..2]).join(&hash)
}

#[test]
fn export_then_import_carries_the_blobs_and_the_log_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("live");
    let fixtures = crate::cli::fixtures();
    assert_eq!(code(&morgue(&data, &["import", fixtures.to_str().unwrap()])), 0);
    let sea = upload(&data, "sea-wall.png");
    let light = upload(&data, "lighthouse.png");

    let file = dir.path().join("out.jsonl");
    let exported = json(&morgue(&data, &["export", "--out", file.to_str().unwrap(), "--json"]));
    assert_eq!(exported["blobs"], 2, "{exported}");
    let beside = dir.path().join("out.jsonl.blobs");
    assert_eq!(exported["blobsDir"], json!(beside.display().to_string()));
    for bytes in [&sea, &light] {
        assert_eq!(&std::fs::read(blob_path(&beside, bytes)).unwrap(), bytes);
    }

    // Without the bytes, the import is refused at the image's line, and appends nothing.
    let moved = dir.path().join("elsewhere");
    std::fs::rename(&beside, &moved).unwrap();
    let bare = dir.path().join("bare");
    let refused = morgue(&bare, &["import", file.to_str().unwrap(), "--batch", "100000"]);
    assert_ne!(code(&refused), 0, "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("field payload.hash") && stderr.contains("--blobs"), "{stderr}");
    assert_eq!(json(&morgue(&bare, &["stats", "--json"]))["head"], "0", "the log is untouched");
    assert!(!bare.join("blobs").exists() || std::fs::read_dir(bare.join("blobs")).unwrap().count() == 0);

    // A damaged blob is refused too.
    let damaged_path = blob_path(&moved, &sea);
    let mut damaged = sea.clone();
    damaged[sea.len() / 3] ^= 0x10;
    std::fs::write(&damaged_path, &damaged).unwrap();
    let refused = morgue(
        &bare,
        &["import", file.to_str().unwrap(), "--blobs", moved.to_str().unwrap(), "--batch", "100000"],
    );
    assert_ne!(code(&refused), 0, "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("damaged"), "{refused:?}");
    assert_eq!(json(&morgue(&bare, &["stats", "--json"]))["head"], "0", "the log is untouched");
    std::fs::write(&damaged_path, &sea).unwrap();

    // With them: the same log, line for line, and the same blobs, byte for byte.
    let copy = dir.path().join("copy");
    let imported = morgue(&copy, &["import", file.to_str().unwrap(), "--blobs", moved.to_str().unwrap()]);
    assert_eq!(code(&imported), 0, "{imported:?}");
    let again = dir.path().join("again.jsonl");
    assert_eq!(code(&morgue(&copy, &["export", "--out", again.to_str().unwrap()])), 0);
    assert!(std::fs::read(&file).unwrap() == std::fs::read(&again).unwrap(), "the logs differ");
    for bytes in [&sea, &light] {
        assert_eq!(&std::fs::read(blob_path(&copy.join("blobs"), bytes)).unwrap(), bytes);
    }
    let verified = json(&morgue(&copy, &["verify", "--json"]));
    assert_eq!((verified["ok"].as_bool(), verified["blobs"].as_u64()), (Some(true), Some(2)), "{verified}");
}

#[test]
fn backup_and_restore_carry_the_blobs_byte_for_byte_and_verify_catches_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("live");
    let bytes = upload(&data, "lighthouse.png");
    let verified = json(&morgue(&data, &["verify", "--json"]));
    assert_eq!((verified["ok"].as_bool(), verified["blobs"].as_u64()), (Some(true), Some(1)), "{verified}");
    assert_eq!(verified["blobBytes"].as_u64(), Some(bytes.len() as u64));

    let backup = dir.path().join("backup");
    let backed = json(&morgue(&data, &["backup", "--out", backup.to_str().unwrap(), "--json"]));
    assert!(backed["copied"].as_array().unwrap().contains(&json!("blobs")), "{backed}");
    let restored_dir = dir.path().join("restored");
    let restored = morgue(&restored_dir, &["restore", "--from", backup.to_str().unwrap()]);
    assert_eq!(code(&restored), 0, "{restored:?}");
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let path = |root: &std::path::Path| root.join("blobs").join(&hash[..2]).join(&hash);
    assert_eq!(std::fs::read(path(&restored_dir)).unwrap(), bytes, "the restored blob is byte-identical");

    // One flipped byte in a blob: verify names it and exits DAMAGED.
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0x01;
    std::fs::write(path(&data), &damaged).unwrap();
    let report = morgue(&data, &["verify", "--json"]);
    assert_eq!(code(&report), i32::from(morgue::cli::exit::DAMAGED), "{report:?}");
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("one JSON report");
    assert_eq!(report["ok"], false);
    assert_eq!(report["damagedBlobs"], json!([hash]), "{report}");
    // And a backup of it is refused rather than made with a bad copy.
    let refused = morgue(&data, &["backup", "--out", dir.path().join("bad").to_str().unwrap()]);
    assert_ne!(code(&refused), 0, "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("damaged"), "{refused:?}");
}
