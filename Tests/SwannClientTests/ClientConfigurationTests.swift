import SwannClient
import Testing

struct ClientConfigurationTests {
    @Test func parsesEndpoints() {
        let c = ClientConfiguration(endpoint: "shard-0.swann:8081")
        #expect(c?.host == "shard-0.swann" && c?.port == 8081)
        #expect(ClientConfiguration(endpoint: "[::1]:9000")?.host == "[::1]")
    }

    @Test(arguments: ["nohost", ":8081", "host:0", "host:70000", "host:port"])
    func rejectsMalformedEndpoints(text: String) {
        #expect(ClientConfiguration(endpoint: text) == nil)
    }
}
