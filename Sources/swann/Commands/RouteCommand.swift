import ArgumentParser
import Foundation
import SwannClient
import SwannServer

/// `swann route`: the same HTTP and TCP API as `serve`, answered by fanning out to shard servers.
struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Serve the union of shard servers (built with --shard i/N) behind one HTTP/JSON and TCP endpoint.",
        discussion: """
            Every query goes to every shard over the TCP protocol; their top-k are merged. A shard that does not \
            answer within --shard-timeout makes the request fail with 503, or, with --partial, the answer comes \
            from the other shards and is marked "partial": true. Options are also read from SWANN_<NAME>.
            """
    )

    static let environmentOptions = EnvironmentDefaults(
        options: ServerOptions.environmentOptions + ["shards", "shard-timeout", "retries", "health-interval", "shard-api-key-file", "shard-ca"],
        flags: ServerOptions.environmentFlags + ["partial"],
        positional: nil
    )

    @Option(help: "Comma-separated host:port of every shard's TCP port.")
    var shards: String
    @Flag(help: "Answer from the shards that replied (marked partial) instead of failing with 503.")
    var partial = false
    @Option(help: "Seconds each shard has to answer.")
    var shardTimeout = 2.0
    @Option(help: "Retries per shard call after a connection failure.")
    var retries = 1
    @Option(help: "Seconds between health checks of every shard.")
    var healthInterval = 2.0
    @Option(help: "API key file for the shards (the key with the highest role is sent: a router that writes needs a write key).")
    var shardAPIKeyFile: String?
    @Option(help: "PEM certificate authorities to trust for TLS to the shards (turns TLS on).")
    var shardCA: String?
    @OptionGroup var server: ServerOptions

    func validate() throws {
        guard !endpoints.isEmpty, endpoints.allSatisfy({ ClientConfiguration(endpoint: $0) != nil }) else {
            throw ValidationError("--shards must be comma-separated host:port, got '\(shards)'")
        }
        guard shardTimeout > 0, healthInterval > 0, retries >= 0 else {
            throw ValidationError("--shard-timeout and --health-interval must be positive, --retries at least 0")
        }
    }

    var endpoints: [String] { shards.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let configuration = try server.configuration()
        let key = try shardAPIKeyFile.map { try readKeys($0).max { ($0.value, $0.key) < ($1.value, $1.key) }!.key }
        var options = ShardRouter.Options(
            shards: endpoints.map { endpoint in
                var client = ClientConfiguration(endpoint: endpoint)!
                client.timeout = .milliseconds(Int(shardTimeout * 1000))
                client.connectTimeout = client.timeout
                client.apiKey = key
                if let shardCA { client.tls = .init(trustRootsPath: shardCA) }
                return client
            }
        )
        options.allowPartialResults = partial
        options.retries = retries
        options.healthInterval = .milliseconds(Int(healthInterval * 1000))
        try await server.run(
            SwannServer(backend: .shards(options), configuration: configuration, logger: server.logger),
            tls: configuration.tls != nil
        )
    }
}
