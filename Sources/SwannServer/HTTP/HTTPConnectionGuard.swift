import NIOCore
import NIOHTTPTypes

import struct NIOConcurrencyHelpers.NIOLockedValueBox

/// The HTTP connections of one server, so that idle ones can make room: once `evictionThreshold`
/// connections are open, each new one closes the connection idle longest (no request in
/// flight). Without it, ~1,000 sockets that never send a request held every slot until the
/// idle timeout and every new client waited (the hardening issue).
final class HTTPConnectionSlots: Sendable {
    struct Entry {
        let channel: any Channel
        /// When the connection last had no request in flight; nil while one is.
        var idleSince: NIODeadline?
    }

    /// Open connections at which idle ones start to be closed for new ones.
    let evictionThreshold: Int
    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    /// `maxConnections` as Hummingbird admits them; eviction starts 1/16 below (at least one
    /// below), so that admission is never what stops a client that sends a request.
    init(maxConnections: Int) {
        evictionThreshold = max(1, maxConnections - max(1, maxConnections / 16))
    }

    /// Registers a new connection; returns the idle connection to close, if one must go.
    func opened(_ channel: any Channel) -> (any Channel)? {
        entries.withLockedValue { entries in
            entries[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: .now())
            guard entries.count > evictionThreshold else { return nil }
            let oldest = entries.values
                .filter { $0.channel !== channel && $0.idleSince != nil }
                .min { $0.idleSince! < $1.idleSince! }
            if let oldest { entries[ObjectIdentifier(oldest.channel)] = nil }
            return oldest?.channel
        }
    }

    func busy(_ channel: any Channel) { entries.withLockedValue { $0[ObjectIdentifier(channel)]?.idleSince = nil } }
    func idle(_ channel: any Channel) { entries.withLockedValue { $0[ObjectIdentifier(channel)]?.idleSince = .now() } }
    func closed(_ channel: any Channel) { entries.withLockedValue { $0[ObjectIdentifier(channel)] = nil } }
}

/// Per connection: a request head must arrive within `readDeadline` of the connection opening,
/// a request's body within `readDeadline` of its head, and the next head within `idleDeadline`
/// of the last response; no deadline moves when bytes trickle in (Hummingbird's idle timer
/// resets on every read, so a client sending a header or body byte a second kept its slot for
/// ever). Also reports busy/idle to the slots.
final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let slots: HTTPConnectionSlots
    private let readDeadline: TimeAmount
    private let idleDeadline: TimeAmount
    private var inFlight = 0
    /// A request head has arrived and its end has not.
    private var receivingBody = false
    private var timer: Scheduled<Void>?

    init(slots: HTTPConnectionSlots, readDeadline: TimeAmount, idleDeadline: TimeAmount) {
        self.slots = slots
        self.readDeadline = readDeadline
        self.idleDeadline = idleDeadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private var started = false
    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        slots.opened(context.channel)?.close(promise: nil)
        arm(readDeadline, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        slots.closed(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            receivingBody = true
            slots.busy(context.channel)
            arm(readDeadline, context: context)  // for the body
        case .end:
            receivingBody = false
            if inFlight > 0 {
                // The request is whole: from here the handler's time is the request timeout's.
                timer?.cancel()
                timer = nil
            } else {
                // Answered before its body ended (a refusal): now idle.
                arm(idleDeadline, context: context)
            }
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 {
                slots.idle(context.channel)
                // A body still arriving keeps its own deadline.
                if !receivingBody { arm(idleDeadline, context: context) }
            }
        }
        context.write(data, promise: promise)
    }

    private func arm(_ delay: TimeAmount, context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
    }
}
