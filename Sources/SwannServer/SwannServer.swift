public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
public import NIOCore
import NIOSSL
public import ServiceLifecycle
public import Swann

/// `swann serve`: one index behind the HTTP/JSON and binary TCP front ends, in one
/// `ServiceGroup` that shuts down gracefully on SIGTERM/SIGINT (stop accepting, finish what is
/// in flight, exit).
///
/// The ports open first and answer `/healthz` at once; the index opens and warms on the search
/// pool meanwhile, and `/readyz` turns 200 when it can answer. If it cannot be opened the
/// server stops with that error.
public struct SwannServer: Sendable {
    /// What the server reports as it starts (the CLI prints these lines; tests read the ports).
    public enum Event: Sendable {
        case httpListening(host: String, port: Int)
        case tcpListening(host: String, port: Int)
        case ready(Index, seconds: Double)
    }

    public var configuration: ServerConfiguration
    public var indexPath: String
    public var openOptions: Index.OpenOptions
    public var logger: Logger

    public init(indexPath: String, openOptions: Index.OpenOptions = .init(), configuration: ServerConfiguration, logger: Logger) {
        self.indexPath = indexPath
        self.openOptions = openOptions
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM/SIGINT (or until the index fails to open, which is thrown).
    /// - Parameter events: called as the ports open and the index becomes ready.
    public func run(events: @escaping @Sendable (Event) -> Void = { _ in }) async throws {
        try configuration.validate()
        let tls = try configuration.tls.map(Self.tlsConfiguration)
        let service = SearchService(configuration: configuration)
        let loader = IndexLoader(service: service, path: indexPath, options: openOptions, logger: logger, events: events)
        var services: [any Service] = [loader]
        if configuration.tcpPort != nil {
            let tcpContext = try tls.map { try NIOSSLContext(configuration: $0) }
            services.append(TCPServer(service: service, tls: tcpContext, logger: logger) { address in
                events(.tcpListening(host: configuration.host, port: address.port ?? 0))
            })
        }
        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(Int64(configuration.idleTimeout.seconds * 1e9))))
        let app = Application(
            router: HTTPAPI.router(service: service),
            server: try tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.httpPort), serverName: "swann",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)),
            services: services,
            onServerRunning: { channel in
                events(.httpListening(host: configuration.host, port: channel.localAddress?.port ?? 0))
            },
            logger: logger)
        do {
            try await app.runService()
        } catch {
            await service.shutdown()
            throw error
        }
        await service.shutdown()
    }

    /// Server-side TLS from PEM files, with a message naming the file that fails.
    static func tlsConfiguration(_ files: ServerConfiguration.TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath) } catch {
            throw ServerConfigurationError(detail: "cannot read the TLS certificate \(files.certificatePath): \(error)")
        }
        do { key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem) } catch {
            throw ServerConfigurationError(detail: "cannot read the TLS private key \(files.privateKeyPath): \(error)")
        }
        guard !chain.isEmpty else { throw ServerConfigurationError(detail: "\(files.certificatePath) holds no certificate") }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}

/// Opens the index after the ports are up, then idles until shutdown (a service that returned
/// would stop the group).
struct IndexLoader: Service {
    let service: SearchService
    let path: String
    let options: Index.OpenOptions
    let logger: Logger
    let events: @Sendable (SwannServer.Event) -> Void

    func run() async throws {
        let started = ContinuousClock.now
        try await service.load(path: path, options: options)
        if let index = service.index {
            events(.ready(index, seconds: (ContinuousClock.now - started).seconds))
        }
        try? await gracefulShutdown()
    }
}
