import SwannServer
import Testing

struct ServerConfigurationTests {
    @Test func defaultsBindLoopback() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.host == "127.0.0.1")
        try configuration.validate()
    }

    /// The loopback rule reads an address, not a name that merely starts like one.
    @Test func loopbackMeansALoopbackAddress() {
        for (host, loopback) in [
            ("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("localhost", true),
            ("127.evil.example", false), ("127.0.0.1.nip.io", false), ("127.0.0.256", false), ("0.0.0.0", false), ("10.0.0.1", false),
        ] {
            var configuration = ServerConfiguration()
            configuration.host = host
            #expect(configuration.bindsLoopbackOnly == loopback, "\(host)")
        }
    }

    @Test func rejectsBadPorts() {
        var configuration = ServerConfiguration()
        configuration.httpPort = 70_000
        #expect(throws: ServerConfigurationError.self) { try configuration.validate() }
        configuration.httpPort = 9000
        configuration.tcpPort = 9000
        #expect(throws: ServerConfigurationError.self) { try configuration.validate() }
    }
}
