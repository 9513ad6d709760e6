import Foundation
import Swann
import SwannClient
import SwannTestSupport
import Testing

/// `swann serve` as a real process: curl and SwannClient get what `swann search` prints.
@Suite(.serialized)
struct ServeCommandTests {
    static func curl(_ arguments: [String]) throws -> (status: Int, body: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-s", "-w", "\n%{http_code}"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let split = text.lastIndex(of: "\n")!
        return (Int(text[text.index(after: split)...]) ?? 0, Data(text[..<split].utf8))
    }

    @Test func curlAndTheClientAgreeWithSwannSearch() async throws {
        let directory = CLI.temporaryDirectory()
        let searched = try CLI.run([
            "search", BundledExample.index, "--queries", BundledExample.queries, "-k", "10", "--output", directory + "/r.json",
        ])
        #expect(searched.status == 0, "\(searched.stderr)")
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/r.json"))) as! [String: Any]
        let expected = (file["results"] as! [[[String: Any]]]).map { $0.map { $0["id"] as! Int } }

        let server = try ServerProcess(["serve", BundledExample.index, "--read-only", "--port", "0", "--tcp-port", "0"])
        let base = "http://127.0.0.1:\(server.httpPort)"
        #expect(try Self.curl([base + "/healthz"]).status == 200)
        #expect(try Self.curl([base + "/readyz"]).status == 200)

        let queries = Array(BundledExample.queryRows[0..<5])
        let single = try Self.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["vector": queries[0], "k": 10]), as: UTF8.self), base + "/v1/search",
        ])
        #expect(single.status == 200)
        let singleIDs = ((try JSONSerialization.jsonObject(with: single.body) as! [String: Any])["results"] as! [[String: Any]]).map {
            $0["id"] as! Int
        }
        #expect(singleIDs == expected[0])

        let batch = try Self.curl([
            "-H", "Content-Type: application/json", "-d",
            String(decoding: try JSONSerialization.data(withJSONObject: ["queries": queries, "k": 10]), as: UTF8.self), base + "/v1/search/batch",
        ])
        #expect(batch.status == 200)
        let batchIDs = ((try JSONSerialization.jsonObject(with: batch.body) as! [String: Any])["results"] as! [[[String: Any]]])
            .map { $0.map { $0["id"] as! Int } }
        #expect(batchIDs == Array(expected[0..<5]))

        let client = SwannClient(ClientConfiguration(port: server.tcpPort, timeout: .seconds(30)))
        for (q, query) in queries.enumerated() {
            #expect(try await client.search(query, k: 10).neighbors.map { Int($0.id) } == expected[q])
        }
        await client.close()

        let bad = try Self.curl(["-H", "Content-Type: application/json", "-d", #"{"vector": [1, 2]}"#, base + "/v1/search"])
        #expect(bad.status == 400)
        #expect(try Self.curl([base + "/readyz"]).status == 200)

        let (status, rest) = server.stop()
        #expect(status == 0)
        #expect(rest.contains("stopped"))
    }

    @Test func aChunkedBodyOverTheLimitIs413WithTheJSONError() throws {
        // A chunked body announces no length: it is refused when collecting passes --max-body
        // (it once surfaced as a 500), and the server goes on serving.
        let server = try ServerProcess(["serve", BundledExample.index, "--read-only", "--port", "0", "--no-tcp", "--max-body", "4KiB"])
        defer { _ = server.stop() }
        let base = "http://127.0.0.1:\(server.httpPort)"
        let directory = CLI.temporaryDirectory()
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["vector": BundledExample.queryRows[0], "k": 10]), as: UTF8.self)
        try body.write(toFile: directory + "/large.json", atomically: true, encoding: .utf8)
        #expect(body.utf8.count > 4_096)
        let chunked = try Self.curl([
            "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + directory + "/large.json",
            base + "/v1/search",
        ])
        #expect(chunked.status == 413, "\(String(decoding: chunked.body, as: UTF8.self))")
        let error = (try JSONSerialization.jsonObject(with: chunked.body) as? [String: Any])?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "body_too_large")
        // A client that sends a large body without waiting for `100 Continue` still gets the
        // early 413 (it once blocked until the idle timeout): --max-time bounds the wait.
        FileManager.default.createFile(atPath: directory + "/huge.json", contents: Data(repeating: UInt8(ascii: "a"), count: 30 << 20))
        let early = try Self.curl([
            "--max-time", "20", "-H", "Expect:", "-H", "Content-Type: application/json", "--data-binary", "@" + directory + "/huge.json",
            base + "/v1/search",
        ])
        #expect(early.status == 413)
        #expect(String(decoding: early.body, as: UTF8.self).contains("body_too_large"))
        // A small chunked body is read whole and answered.
        let small = try Self.curl([
            "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked", "-d", #"{"vector": [1, 2], "k": 1}"#, base + "/v1/search",
        ])
        #expect(small.status == 400)
        #expect(String(decoding: small.body, as: UTF8.self).contains("dimension 2"))
    }

    /// Sends `request` as raw bytes over one connection and returns what comes back until the
    /// server closes it (bash's /dev/tcp: no HTTP client would send these requests).
    static func raw(_ request: String, port: Int) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port); printf '%s' \"$REQUEST\" >&3; timeout 10 cat <&3"]
        process.environment = ["REQUEST": request, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func requestsTheHTTPParserRefusesGetTheJSONError() throws {
        let server = try ServerProcess(["serve", BundledExample.index, "--read-only", "--port", "0", "--no-tcp"])
        defer { _ = server.stop() }
        let refused = [
            "GARBAGE\r\n\r\n",
            "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "POST /v1/search HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u{01}b\r\n\r\n",
            "\u{16}\u{03}\u{01}\u{02}\u{00}\u{01}\u{00}\u{01}\u{fc}\u{03}\u{03}",
        ]
        for request in refused {
            let answer = try Self.raw(request, port: server.httpPort)
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(request.debugDescription) → \(answer.debugDescription)")
            #expect(answer.contains(#""code":"invalid_http""#), "\(request.debugDescription) → \(answer.debugDescription)")
            #expect(answer.lowercased().contains("content-type: application/json"))
        }
        // The server keeps serving, also on a connection that sends a good request.
        let good = try Self.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", port: server.httpPort)
        #expect(good.hasPrefix("HTTP/1.1 200"), "\(good.debugDescription)")
    }

    /// A TCP connection to the loopback `port`, or -1.
    static func connectSocket(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// A request that never completes (its body never arrives, its read deadline far off) cannot
    /// keep a stopping server alive past `--shutdown-timeout`: graceful shutdown waits for it
    /// that long, then cancels it. Unbounded (Hummingbird's `runService()`), the same server was
    /// still running 40 s after SIGTERM.
    @Test func aStuckRequestHoldsShutdownOnlyUntilItsBound() throws {
        let server = try ServerProcess([
            "serve", BundledExample.index, "--read-only", "--port", "0", "--no-tcp",
            "--read-timeout", "600", "--idle-timeout", "600", "--shutdown-timeout", "2",
        ])
        let stuck = Self.connectSocket(port: server.httpPort)
        #expect(stuck >= 0)
        defer { close(stuck) }
        let head = Array("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"k\":".utf8)
        #expect(head.withUnsafeBytes { send(stuck, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == head.count)
        usleep(300_000)
        let started = ContinuousClock.now
        let (status, output) = server.stop(grace: .seconds(60))
        let took = ContinuousClock.now - started
        #expect(status == 0, "\(output)")
        // It did wait for the request (the graceful part), and no longer than the bound allows.
        #expect(took >= .milliseconds(1_500), "stopped after \(took): the request was not in flight")
        #expect(took < .seconds(30), "stopped after \(took) with --shutdown-timeout 2")
    }

    @Test func idleAndTricklingConnectionsCannotHoldEverySlot() throws {
        let server = try ServerProcess([
            "serve", BundledExample.index, "--read-only", "--port", "0", "--no-tcp", "--max-connections", "16", "--read-timeout", "1",
        ])
        defer { _ = server.stop() }
        let base = "http://127.0.0.1:\(server.httpPort)"
        // 40 sockets that never send a request: a client with a request is still answered.
        let idle = (0..<40).map { _ in Self.connectSocket(port: server.httpPort) }
        defer { for fd in idle where fd >= 0 { close(fd) } }
        #expect(idle.filter { $0 >= 0 }.count >= 16)
        for _ in 0..<3 {
            #expect(try Self.curl(["--max-time", "5", base + "/healthz"]).status == 200)
        }
        // A header sent one byte at a time is cut off at --read-timeout, however steady.
        let trickle = Self.connectSocket(port: server.httpPort)
        #expect(trickle >= 0)
        defer { close(trickle) }
        let started = ContinuousClock.now
        var cutOff = false
        for byte in Array("GET /healthz HTTP/1.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100) {
            var value = byte
            if send(trickle, &value, 1, Int32(MSG_NOSIGNAL)) != 1 {
                cutOff = true
                break
            }
            usleep(100_000)
            if ContinuousClock.now - started > .seconds(8) { break }
        }
        #expect(cutOff, "a trickling client kept its connection for \(ContinuousClock.now - started)")
        #expect(try Self.curl(["--max-time", "5", base + "/healthz"]).status == 200)

        // So is a body: its head arrives whole, then a byte per 100 ms of a promised 100.
        let slowBody = Self.connectSocket(port: server.httpPort)
        #expect(slowBody >= 0)
        defer { close(slowBody) }
        let head = Array("POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n".utf8)
        #expect(head.withUnsafeBytes { send(slowBody, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == head.count)
        let bodyStarted = ContinuousClock.now
        var bodyCutOff = false
        for _ in 0..<100 {
            var value = UInt8(ascii: " ")
            if send(slowBody, &value, 1, Int32(MSG_NOSIGNAL)) != 1 {
                bodyCutOff = true
                break
            }
            usleep(100_000)
            if ContinuousClock.now - bodyStarted > .seconds(8) { break }
        }
        #expect(bodyCutOff, "a client trickling its body kept its connection for \(ContinuousClock.now - bodyStarted)")
        #expect(try Self.curl(["--max-time", "5", base + "/healthz"]).status == 200)
    }

    @Test func environmentVariablesConfigureTheServer() async throws {
        let directory = CLI.temporaryDirectory()
        FileManager.default.createFile(atPath: directory + "/keys", contents: Data("# ops\nalpha\n".utf8))
        let server = try ServerProcess(
            ["serve", "--read-only", "--port", "0", "--tcp-port", "0"],
            environment: ["SWANN_INDEX": BundledExample.index, "SWANN_API_KEY_FILE": directory + "/keys", "SWANN_MAX_K": "5"]
        )
        let base = "http://127.0.0.1:\(server.httpPort)"
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["vector": BundledExample.queryRows[0], "k": 5]), as: UTF8.self)
        #expect(try Self.curl(["-H", "Content-Type: application/json", "-d", body, base + "/v1/search"]).status == 401)
        let authorized = ["-H", "Authorization: Bearer alpha", "-H", "Content-Type: application/json"]
        #expect(try Self.curl(authorized + ["-d", body, base + "/v1/search"]).status == 200)
        let tooMany = body.replacingOccurrences(of: #""k":5"#, with: #""k":6"#)
        #expect(try Self.curl(authorized + ["-d", tooMany, base + "/v1/search"]).status == 400)
        let client = SwannClient(ClientConfiguration(port: server.tcpPort, timeout: .seconds(30), connectTimeout: .seconds(30), apiKey: "alpha"))
        #expect(try await client.search(BundledExample.queryRows[0], k: 5).neighbors.count == 5)
        await client.close()
        #expect(server.stop().0 == 0)
    }

    @Test func httpsWithTheGeneratedCertificate() throws {
        let (certificate, key) = try TestCertificate.make()
        let server = try ServerProcess([
            "serve", BundledExample.index, "--read-only", "--port", "0", "--tcp-port", "0", "--tls-cert", certificate, "--tls-key", key,
        ])
        #expect(try Self.curl(["--cacert", certificate, "https://localhost:\(server.httpPort)/readyz"]).status == 200)
        #expect(try Self.curl(["http://127.0.0.1:\(server.httpPort)/readyz"]).status != 200)
        #expect(server.stop().0 == 0)
    }
}
