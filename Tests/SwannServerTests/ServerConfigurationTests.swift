import SwannServer
import Testing

struct ServerConfigurationTests {
    @Test func defaultsBindLoopback() throws {
        let configuration = ServerConfiguration()
        #expect(configuration.host == "127.0.0.1")
        try configuration.validate()
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
