public import Foundation
public import Swann

/// Paths into the example shipped with the repository (Tools/data/minilm-10k): the first
/// 10,000 base vectors and 1,000 queries of minilm-100k as float16, with texts and exact top-100.
public enum BundledExample {
    /// Tools/data/minilm-10k, found above this source file.
    public static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent("Tools/data/minilm-10k")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
        }
        fatalError("Tools/data/minilm-10k not found above \(#filePath)")
    }()
    /// 10,000 float16 base vectors.
    public static var base: String { directory + "/base.npy" }
    /// 1,000 float16 queries.
    public static var queries: String { directory + "/queries.npy" }
    /// Exact top-100 of each query.
    public static var truth: String { directory + "/gt100.ivecs" }
}

/// Positions where two exact k-NN answers name different ids although the distances differ by
/// more than float rounding: true disagreements, not ties.
public func disagreements(_ got: NeighborTable, _ truth: NeighborTable, queries: VectorMatrix, base: VectorMatrix, k: Int) -> [String] {
    var problems: [String] = []
    for q in 0..<got.queryCount {
        let query = queries.floats(at: q).map(Double.init)
        func distance(_ id: Int64) -> Double {
            zip(query, base.floats(at: Int(id))).reduce(0) { $0 + ($1.0 - Double($1.1)) * ($1.0 - Double($1.1)) }
        }
        for j in 0..<k where got.ids[q * got.k + j] != truth.ids[q * truth.k + j] {
            let a = distance(got.ids[q * got.k + j])
            let b = distance(truth.ids[q * truth.k + j])
            if abs(a - b) > 1e-5 * max(1, b) { problems.append("query \(q) rank \(j): \(a) vs \(b)") }
        }
    }
    return problems
}

extension BundledExample {
    /// An index of the bundled example at default settings, built once per test process and
    /// shared by every test: servers open it `--read-only` (a writable one creates its log in
    /// it while other tests copy it); a test that writes works on a copy.
    public static let index: String = {
        let directory = TestDirectory.make("example")
        let path = directory + "/minilm-10k.swann"
        try! IndexBuilder(options: IndexBuilder.Options()).build(from: try! VectorFile(path: base), to: path)
        return path
    }()

    /// The example's queries as float rows.
    public static let queryRows: [[Float]] = {
        let matrix = try! VectorFile(path: queries).readVectors()
        return (0..<matrix.count).map { matrix.floats(at: $0) }
    }()
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made with the openssl command line.
public enum TestCertificate {
    /// Writes `cert.pem` and `key.pem` into a fresh temporary directory.
    /// - Returns: their paths.
    public static func make() throws -> (certificate: String, key: String) {
        let directory = TestDirectory.make("tls")
        let certificate = directory + "/cert.pem"
        let key = directory + "/key.pem"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", certificate,
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return (certificate, key)
    }
}

/// Scratch directories for tests: every one lives under this process's root, which is removed
/// when the process exits (roots left by killed runs are removed by the next run).
public enum TestDirectory {
    static let root: String = {
        let base = FileManager.default.temporaryDirectory.path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix("swann-tests-") {
            // A root whose process is gone: a run that was killed before its exit handler.
            if let pid = Int32(name.dropFirst("swann-tests-".count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: base + "/" + name)
            }
        }
        let path = base + "/swann-tests-\(getpid())"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestDirectory.root) }
        return path
    }()

    /// A fresh, empty directory (`label` makes its name easier to spot while a test runs).
    public static func make(_ label: String = "scratch") -> String {
        let path = root + "/\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
