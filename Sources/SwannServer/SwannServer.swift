public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
public import NIOCore
import NIOSSL
public import ServiceLifecycle
public import Swann
import SwannProtocol
import UnixSignals

/// `swann serve` and `swann route`: a backend (one index, or a fan-out over shard servers)
/// behind the HTTP/JSON and binary TCP front ends, in one `ServiceGroup` that shuts down
/// gracefully on SIGTERM/SIGINT (stop accepting, finish what is in flight, exit).
///
/// The ports open first and answer `/healthz` at once; the index opens and warms on the search
/// pool meanwhile (or the shards are health-checked), and `/readyz` turns 200 when searches can
/// be answered. If the index cannot be opened the server stops with that error.
public struct SwannServer: Sendable {
    /// What answers the queries.
    public enum Backend: Sendable {
        /// The index directory at `path`, opened with `options`.
        case index(path: String, options: Index.OpenOptions)
        /// Shard servers reached over TCP, merged by a `ShardRouter`.
        case shards(ShardRouter.Options)
    }

    /// What the server reports as it starts (the CLI prints these lines; tests read the ports).
    public enum Event: Sendable {
        case httpListening(host: String, port: Int)
        case tcpListening(host: String, port: Int)
        /// The backend can answer: what it serves, and how long it took to get there.
        case ready(description: String, seconds: Double)
        /// SIGHUP replaced the served index: what is served now.
        case reloaded(description: String, seconds: Double)
        /// SIGHUP's reload failed; the old index goes on serving.
        case reloadFailed(String)
    }

    /// What answers searches: a local index or a shard router.
    public var backend: Backend
    /// Ports, limits, TLS and keys.
    public var configuration: ServerConfiguration
    /// Where the server logs.
    public var logger: Logger

    /// A server for `backend`; `run()` serves until graceful shutdown.
    public init(backend: Backend, configuration: ServerConfiguration, logger: Logger) {
        self.backend = backend
        self.configuration = configuration
        self.logger = logger
    }

    /// Serves one index directory.
    public init(indexPath: String, openOptions: Index.OpenOptions = .init(), configuration: ServerConfiguration, logger: Logger) {
        self.init(backend: .index(path: indexPath, options: openOptions), configuration: configuration, logger: logger)
    }

    /// Runs until SIGTERM/SIGINT (or until the index fails to open, which is thrown).
    /// - Parameter events: called as the ports open and the backend becomes ready.
    public func run(events: @escaping @Sendable (Event) -> Void = { _ in }) async throws {
        try configuration.validate()
        switch backend {
        case .index(let path, let options):
            let service = SearchService(configuration: configuration)
            let loader = IndexLoader(service: service, path: path, options: options, events: events)
            let hangup = HangupReloader(service: service, events: events)
            do {
                try await serve(service, with: [loader, hangup], events: events)
            } catch {
                await service.shutdown()
                throw error
            }
            await service.shutdown()
        case .shards(let options):
            let router = ShardRouter(options: options, configuration: configuration, logger: logger)
            let watcher = ReadinessWatcher(backend: router, events: events)
            try await serve(router, with: [router, watcher], events: events)
        }
    }

    private func serve(_ backend: some SearchBackend, with services: [any Service], events: @escaping @Sendable (Event) -> Void) async throws {
        let configuration = configuration
        let tls = try configuration.tls.map(Self.tlsConfiguration)
        var services = services
        if configuration.tcpPort != nil {
            let tcpContext = try tls.map { try NIOSSLContext(configuration: $0) }
            services.append(
                TCPServer(service: backend, tls: tcpContext, logger: logger) { address in
                    events(.tcpListening(host: configuration.host, port: address.port ?? 0))
                }
            )
        }
        let slots = HTTPConnectionSlots(maxConnections: configuration.maxConnections)
        let (readDeadline, idleDeadline) = (TimeAmount(configuration.readTimeout), TimeAmount(configuration.idleTimeout))
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ParserErrorResponder(), HTTPConnectionGuard(slots: slots, readDeadline: readDeadline, idleDeadline: idleDeadline),
                ],
                idleTimeout: idleDeadline
            )
        )
        let app = Application(
            router: HTTPAPI.router(service: backend),
            server: try tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.httpPort),
                serverName: "swann",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)
            ),
            services: services,
            onServerRunning: { channel in
                events(.httpListening(host: configuration.host, port: channel.localAddress?.port ?? 0))
            },
            logger: logger
        )
        // Hummingbird's `runService()` builds the same group without a bound on graceful
        // shutdown: one request that never completes (a body that never finishes arriving, a
        // shard call that never returns) kept a stopping server alive for ever.
        var group = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Past the bound the group cancels the services, which closes every connection. No
        // bound on the cancellation itself: ServiceLifecycle traps (fatalError) when that runs out.
        group.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        try await ServiceGroup(configuration: group).run()
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
    let events: @Sendable (SwannServer.Event) -> Void

    func run() async throws {
        let started = ContinuousClock.now
        try await service.load(path: path, options: options)
        if let index = service.index {
            let access = index.access == .readOnly ? "read-only" : "writable, \(index.replayedRecords) log records replayed"
            let description =
                "\(index.count) vectors of dimension \(index.dimension) (\(index.index.manifest.metric.rawValue)) opened (\(access)) and warmed"
            events(.ready(description: description, seconds: (ContinuousClock.now - started).seconds))
        }
        try? await gracefulShutdown()
    }
}

/// Reloads the index on SIGHUP (the directory served now, e.g. after `swann build --force`
/// rebuilt it), like `POST /v1/admin/reload` without a body.
struct HangupReloader: Service {
    let service: SearchService
    let events: @Sendable (SwannServer.Event) -> Void

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            let started = ContinuousClock.now
            do throws(ServiceError) {
                let info = try await service.reload(path: nil)
                let description = "\(info.vectorCount) vectors of dimension \(info.dimension) from \(service.index?.path ?? "?")"
                events(.reloaded(description: description, seconds: (ContinuousClock.now - started).seconds))
            } catch {
                events(.reloadFailed(error.description))
            }
        }
    }
}

/// Reports `.ready` the first time a router's shards all answer.
struct ReadinessWatcher: Service {
    let backend: ShardRouter
    let events: @Sendable (SwannServer.Event) -> Void

    func run() async throws {
        let started = ContinuousClock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if backend.readiness == .ready, let info = try? backend.indexInfo() {
                let description =
                    "routing to \(backend.options.shards.count) shards holding \(info.vectorCount) vectors of dimension \(info.dimension)"
                events(.ready(description: description, seconds: (ContinuousClock.now - started).seconds))
                break
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await gracefulShutdown()
    }
}
