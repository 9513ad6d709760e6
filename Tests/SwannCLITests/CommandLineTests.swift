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
        for subcommand in ["build", "search", "eval", "serve", "info", "groundtruth"] {
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
    ])
    func usageErrorsExitWith2(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(!result.stderr.isEmpty)
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
        let result = try CLI.run(["groundtruth", CLI.example + "/base.npy", "--queries", dir + "/q.npy", "-k", "100", "--output", output, "--threads", "2"])
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
}
