import Foundation
import Swann
import SwannTestSupport
import Testing

struct CommandLineTests {
    @Test func versionAndHelp() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == SwannVersion.current)
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        for subcommand in ["build", "search", "eval", "serve", "info", "groundtruth", "calibrate"] {
            #expect(help.stdout.contains(subcommand), "help lists \(subcommand)")
            let sub = try CLI.run([subcommand, "--help"])
            #expect(sub.status == 0, "\(subcommand) --help")
            #expect(sub.stdout.contains("USAGE: swann \(subcommand)"))
        }
    }

    @Test(arguments: [
        ["groundtruth", "a.fbin", "--queries", "b.fbin", "-k", "0", "--output", "o.ivecs"],
        ["groundtruth", "x", "--queries", "y", "--output", "o.ivecs", "--metric", "hamming"],
        ["info", "/nonexistent/file.fbin"],
        ["no-such-command"],
        ["groundtruth", "--threads", "0"],
        // Once trapped at start-up converting to nanoseconds (hardening issue #15).
        ["serve", "/nonexistent.swann", "--idle-timeout", "inf"],
        ["serve", "/nonexistent.swann", "--idle-timeout", "1e300"],
        ["serve", "/nonexistent.swann", "--request-timeout", "1e300"],
        ["serve", "/nonexistent.swann", "--read-timeout", "nan"],
        ["serve", "/nonexistent.swann", "--read-timeout", "-1"],
    ])
    func usageErrorsExitWith2(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    /// Once refused only after the whole build, when the manifest could not hold ∞.
    @Test func infiniteBuildKnobsAreRefusedUpFront() throws {
        let output = CLI.temporaryDirectory() + "/never.swann"
        for knob in ["--closure-epsilon", "--rng-factor"] {
            let result = try CLI.run(["build", CLI.example + "/queries.npy", "--output", output, knob, "inf"])
            #expect(result.status == 2, "\(knob): \(result.stderr)")
            #expect(result.stderr.contains("finite"), "\(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func runtimeErrorsExitWith1AndNameTheFile() throws {
        let dir = CLI.temporaryDirectory()
        FileManager.default.createFile(atPath: dir + "/bad.fbin", contents: Data([1, 0, 0, 0, 4, 0, 0, 0, 0]))
        let result = try CLI.run(["info", dir + "/bad.fbin"])
        #expect(result.status == 1)
        #expect(result.stderr.contains(dir + "/bad.fbin at byte"), "\(result.stderr)")
    }

    @Test func serveRefusesAMissingIndexAndAnExposedBindWithoutKeys() throws {
        let missing = try CLI.run(["serve", "/nonexistent/index.swann", "--port", "0", "--tcp-port", "0"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/index.swann"), "\(missing.stderr)")
        let exposed = try CLI.run(["serve", CLI.example, "--host", "0.0.0.0"])
        #expect(exposed.status != 0)
        #expect(exposed.stderr.contains("--insecure"), "\(exposed.stderr)")
        let keyless = CLI.temporaryDirectory() + "/keys"
        FileManager.default.createFile(atPath: keyless, contents: Data("# no keys here\n\n".utf8))
        let noKeys = try CLI.run(["serve", CLI.example, "--api-key-file", keyless])
        #expect(noKeys.status != 0)
        #expect(noKeys.stderr.contains("holds no keys"), "\(noKeys.stderr)")
        for (text, complaint) in [
            ("alpha read\nbeta owner\n", ":2: unknown role \"owner\""), ("alpha read extra\n", ":1: expected a key and at most a role"),
            ("alpha\nalpha admin\n", ":2: this key is listed twice"),
        ] {
            FileManager.default.createFile(atPath: keyless, contents: Data(text.utf8))
            let refused = try CLI.run(["serve", CLI.example, "--api-key-file", keyless, "--port", "0", "--tcp-port", "0"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains(keyless + complaint), "\(refused.stderr)")
        }
    }

    @Test func infoDescribesTheBundledExample() throws {
        let text = try CLI.run(["info", CLI.example + "/base.npy"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("vectors:       10000"))
        #expect(text.stdout.contains("float16"))
        let json = try CLI.run(["info", "--json", CLI.example + "/queries.npy"])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["count"] as? Int == 1000)
        #expect(object["dimension"] as? Int == 384)
        #expect(object["elementType"] as? String == "float16")
        let statistics = try #require(object["statistics"] as? [String: Any])
        let meanNorm = try #require(statistics["maximumNorm"] as? Double)
        #expect(abs(meanNorm - 1) < 0.01, "minilm vectors are unit length")
    }

    @Test(arguments: ["ivecs", "ibin", "npy"])
    func groundTruthMatchesTheBundledTruth(format: String) throws {
        let dir = CLI.temporaryDirectory()
        // 100 queries keep the test quick; the library test covers all 1,000.
        let queries = try VectorFile(path: CLI.example + "/queries.npy").readVectors(rows: 0..<100)
        try VectorFileWriter.write(queries, to: dir + "/q.npy")
        let output = dir + "/gt." + format
        let result = try CLI.run([
            "groundtruth", CLI.example + "/base.npy", "--queries", dir + "/q.npy", "-k", "100", "--output", output, "--threads", "2",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let got = try VectorFile(path: output).readNeighbors()
        let truth = try VectorFile(path: CLI.example + "/gt100.ivecs").readNeighbors()
        let base = try VectorFile(path: CLI.example + "/base.npy").readVectors()
        let problems = disagreements(got, truth, queries: queries, base: base, k: 100)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        if format == "ibin" {
            #expect(got.distances.count == 100 * 100)
            #expect(got.distances[0] >= 0 && got.distances[0] <= got.distances[99])
        }
    }

    /// `--force` replaces an index and nothing else (hardening issue #15).
    @Test func buildForceReplacesOnlyAnIndex() throws {
        let dir = CLI.temporaryDirectory()
        let input = CLI.example + "/queries.npy"
        // A directory of someone's data, a plain file, and the build's own input copied here.
        try FileManager.default.createDirectory(atPath: dir + "/data/nested", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/data/nested/keep.txt", contents: Data("precious".utf8))
        FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data("precious".utf8))
        try FileManager.default.copyItem(atPath: input, toPath: dir + "/v.npy")
        for target in ["data", "notes.txt", "v.npy"] {
            let result = try CLI.run(["build", dir + "/v.npy", "--output", dir + "/" + target, "--force"])
            #expect(result.status == 1, "\(target): \(result.stderr)")
            #expect(result.stderr.contains("not a Swann index"), "\(result.stderr)")
        }
        #expect(FileManager.default.contents(atPath: dir + "/data/nested/keep.txt") == Data("precious".utf8))
        #expect(FileManager.default.contents(atPath: dir + "/notes.txt") == Data("precious".utf8))
        #expect(FileManager.default.contents(atPath: dir + "/v.npy") == FileManager.default.contents(atPath: input))
        // An index is replaced, in one swap: afterwards only the new index and no leftovers.
        func centroidCount() throws -> Int {
            let manifest = try #require(FileManager.default.contents(atPath: dir + "/idx/manifest.json"))
            let object = try #require(try JSONSerialization.jsonObject(with: manifest) as? [String: Any])
            return try #require(object["centroidCount"] as? Int)
        }
        #expect(try CLI.run(["build", dir + "/v.npy", "--output", dir + "/idx", "--centroid-ratio", "0.05"]).status == 0)
        let before = try centroidCount()
        let replaced = try CLI.run(["build", dir + "/v.npy", "--output", dir + "/idx", "--centroid-ratio", "0.2", "--force"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(try centroidCount() > before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// SIGKILL at random moments of a `--force` rebuild: the name always holds a whole index
    /// (the old one or the new one) that opens and searches, never nothing or half of one.
    @Test func aBuildThatRunsOutOfFileSpaceFailsCleanlyAndKeepsTheOldIndex() throws {
        // RLIMIT_FSIZE stands in for a full disk: the write fails with EFBIG (SIGXFSZ must not
        // kill the process), the error names the file, and a --force rebuild leaves the index it
        // was to replace as it was.
        let directory = CLI.temporaryDirectory()
        let output = directory + "/limited.swann"
        func limitedBuild(_ extra: [String]) throws -> (status: Int32, stderr: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            let command = ([CLI.executable.path, "build", CLI.example + "/base.npy", "--output", output] + extra).joined(separator: " ")
            process.arguments = ["-c", "ulimit -f 1000; exec \(command)"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, stderr)
        }
        let first = try limitedBuild([])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stderr.contains("File too large") && first.stderr.contains("limited.swann"), "\(first.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "a failed build leaves nothing behind")

        let built = try CLI.run(["build", CLI.example + "/base.npy", "--output", output])
        #expect(built.status == 0, "\(built.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: output + "/manifest.json"))
        let forced = try limitedBuild(["--force"])
        #expect(forced.status == 1, "\(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output + "/manifest.json")) == before)
        #expect(try Index.open(at: output).count == 10_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["limited.swann"])
    }

    @Test func killedForceBuildsLeaveAWholeIndexUnderTheName() throws {
        let dir = CLI.temporaryDirectory()
        let input = CLI.example + "/queries.npy"
        let output = dir + "/idx"
        #expect(try CLI.run(["build", input, "--output", output, "--centroid-ratio", "0.05"]).status == 0)
        let query = try VectorFile(path: input).readVectors(rows: 0..<1).floats(at: 0)
        var rng = SplitMix64(seed: 11)
        for round in 0..<10 {
            let process = Process()
            process.executableURL = CLI.executable
            process.arguments = ["build", input, "--output", output, "--force", "--centroid-ratio", round % 2 == 0 ? "0.2" : "0.05"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // A build of these 1,000 rows takes a few hundred ms: kill anywhere in 0...600 ms.
            usleep(UInt32(rng.next() % 600_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let index = try Index.open(at: output)
            #expect(index.count == 1_000, "round \(round)")
            #expect(try index.search(query, k: 3).count == 3, "round \(round)")
        }
        // The next build clears what killed ones left behind.
        #expect(try CLI.run(["build", input, "--output", output, "--force"]).status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }
}
