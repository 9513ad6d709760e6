import NIOCore
import SwannProtocol
import Synchronization

/// Frame decoding for one server connection, with the limits an unauthenticated peer must not
/// get past (hardening issue #15):
/// - before a valid `hello` on a keyed server, a frame body may hold at most
///   `unauthenticatedBodyBytes` (a key fits; a 64 MiB search does not), so an anonymous client
///   cannot make the server buffer `--max-frame` bytes;
/// - a body larger than `FrameBufferBudget.freeBodyBytes` reserves its size from a budget shared
///   by all connections before the server waits for it, so many slow large frames cannot add up;
/// - `progress` records when the frame now arriving started, for `FrameDeadlineHandler`.
///
/// The key is checked here, in stream order, because the frame after a `hello` is decoded before
/// the connection's task has answered the `hello`; the task checks the key again to answer it.
struct ConnectionFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = Frame

    /// Room for any API key in a `hello` body.
    static let unauthenticatedBodyBytes = 4_096

    private var frames: FrameDecoder
    private let authenticatedBodyBytes: Int
    private let keys: APIKeys
    private let budget: FrameBufferBudget
    private let progress: FrameProgress
    private var reservation: FrameBufferBudget.Reservation?

    init(configuration: ServerConfiguration, budget: FrameBufferBudget, progress: FrameProgress) {
        keys = APIKeys(configuration.apiKeys)
        authenticatedBodyBytes = configuration.maxFrameBytes
        let firstLimit = keys.isEmpty ? configuration.maxFrameBytes : min(configuration.maxFrameBytes, Self.unauthenticatedBodyBytes)
        frames = FrameDecoder(maxBodyBytes: firstLimit)
        self.budget = budget
        self.progress = progress
    }

    mutating func decode(buffer: inout ByteBuffer) throws(FrameDecodingError) -> Frame? {
        progress.noteActivity()
        guard let header = try frames.peekHeader(buffer) else {
            progress.waiting(pendingBytes: buffer.readableBytes)
            return nil
        }
        let bodyLength = Int(header.bodyLength)
        let complete = buffer.readableBytes - FrameHeader.byteCount >= bodyLength
        if !complete, reservation == nil, bodyLength > FrameBufferBudget.freeBodyBytes, bodyLength <= frames.maxBodyBytes {
            guard let reserved = budget.reserve(bodyLength) else {
                throw .bufferBudgetExhausted(bodyLength: bodyLength, requestID: header.requestID, type: header.type)
            }
            reservation = reserved
        }
        guard let frame = try frames.decode(buffer: &buffer) else {
            progress.waiting(pendingBytes: buffer.readableBytes)
            return nil
        }
        reservation = nil
        progress.frameCompleted(pendingBytes: buffer.readableBytes)
        if frame.header.type == .hello, keys.matches(String(buffer: frame.body)) {
            frames.maxBodyBytes = authenticatedBodyBytes
        }
        return frame
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(FrameDecodingError) -> Frame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if seenEOF, buffer.readableBytes > 0 { throw FrameDecodingError.truncated(have: buffer.readableBytes) }
        return nil
    }
}

/// Bytes that frames still waiting for their bodies may hold across all connections.
final class FrameBufferBudget: Sendable {
    /// Bodies up to this size need no reservation: connections × this is bounded already.
    static let freeBodyBytes = 64 << 10

    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var usedBytes: Int { used.load(ordering: .relaxed) }

    /// Holds `bytes` of the budget until released (dropped with the decoder if the peer leaves).
    final class Reservation {
        private let budget: FrameBufferBudget
        private let bytes: Int
        fileprivate init(budget: FrameBufferBudget, bytes: Int) {
            self.budget = budget
            self.bytes = bytes
        }
        deinit { budget.used.wrappingSubtract(bytes, ordering: .relaxed) }
    }

    func reserve(_ bytes: Int) -> Reservation? {
        let total = used.wrappingAdd(bytes, ordering: .relaxed).newValue
        guard total <= limit else {
            used.wrappingSubtract(bytes, ordering: .relaxed)
            return nil
        }
        return Reservation(budget: self, bytes: bytes)
    }
}

/// What a connection is doing, for its `FrameDeadlineHandler`: when the frame now arriving
/// started (written and read on the connection's event loop only), and when the connection last
/// made progress and how many of its requests are running (atomics: the connection's task
/// updates them too).
final class FrameProgress: @unchecked Sendable {
    private(set) var partialSince: NIODeadline?
    private(set) var pendingBytes = 0
    private let lastActivity = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
    private let running = Atomic<Int>(0)
    /// Frames the decoder passed on, and frames the connection's task took from its inbound
    /// stream: while they differ, frames wait in the stream's buffer (and, past its high
    /// watermark, more in the socket, unread).
    private let decoded = Atomic<Int>(0)
    private let taken = Atomic<Int>(0)
    private let refusing = Atomic<Bool>(false)

    /// Set late in a drain: requests are answered with an error instead of run.
    var isRefusingNewRequests: Bool { refusing.load(ordering: .relaxed) }

    func refuseNewRequests() { refusing.store(true, ordering: .relaxed) }

    /// Bytes arrived, a frame was taken or a request finished.
    func noteActivity() {
        lastActivity.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// The connection's task took a frame from its inbound stream.
    func frameTaken() {
        taken.wrappingAdd(1, ordering: .relaxed)
        noteActivity()
    }

    func requestStarted() {
        running.wrappingAdd(1, ordering: .relaxed)
        noteActivity()
    }

    func requestFinished() {
        running.wrappingSubtract(1, ordering: .relaxed)
        noteActivity()
    }

    /// No request running, no frame waiting for the connection's task, and nothing happening
    /// for `period`: the server is reading (no back pressure) and the peer sends nothing.
    /// Without the frame count, a task starved of CPU for `period` (ThreadSanitizer and a
    /// parallel test on two cores) looked quiet with 58 of 64 pipelined frames still buffered or
    /// unread, and closing the input dropped them unanswered.
    func isQuiet(for period: TimeAmount) -> Bool {
        guard running.load(ordering: .relaxed) == 0, decoded.load(ordering: .relaxed) == taken.load(ordering: .relaxed) else {
            return false
        }
        let idle = NIODeadline.now().uptimeNanoseconds &- lastActivity.load(ordering: .relaxed)
        return idle >= UInt64(period.nanoseconds)
    }

    func waiting(pendingBytes: Int) {
        self.pendingBytes = pendingBytes
        if pendingBytes == 0 {
            partialSince = nil
        } else if partialSince == nil {
            partialSince = .now()
        }
    }

    func frameCompleted(pendingBytes: Int) {
        decoded.wrappingAdd(1, ordering: .relaxed)
        self.pendingBytes = pendingBytes
        partialSince = pendingBytes > 0 ? .now() : nil
    }
}

/// Closes a connection whose current frame has not arrived whole within `deadline` of its first
/// byte. An idle timer would not do: it restarts on every byte, so one byte a second held a
/// connection slot for ever.
///
/// On graceful shutdown (`DrainEvent`) it closes the connection's input only once the peer has
/// sent nothing for `quietPeriod` and no request is running: closing it at once dropped frames
/// the peer had fully sent but the server had not read yet, which then got no answer. Frames
/// read in the first `servingDrain` are answered as usual; later ones get a quick "shutting
/// down" error instead of a search, so a long backlog still ends soon. After `maxDrain` the
/// input is closed whatever the peer does.
final class FrameDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    /// Fired down the pipeline when the server starts shutting down.
    struct DrainEvent: Sendable {}

    /// Long enough for bytes the peer wrote just before the shutdown to reach the server even on a
    /// loaded machine (100 ms lost frames under a parallel test run).
    static let quietPeriod = TimeAmount.milliseconds(250)
    static let servingDrain = TimeAmount.seconds(2)
    static let maxDrain = TimeAmount.seconds(10)

    private let progress: FrameProgress
    private let deadline: TimeAmount
    private let reportedDeadline: Duration
    private var check: RepeatedTask?
    private var drain: RepeatedTask?

    init(progress: FrameProgress, deadline: Duration) {
        self.progress = progress
        self.deadline = TimeAmount(deadline)
        self.reportedDeadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let period = TimeAmount.nanoseconds(max(1_000_000, min(deadline.nanoseconds / 4, 1_000_000_000)))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let (handler, context) = loopBound.value
            handler.checkDeadline(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        drain?.cancel()
        drain = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is DrainEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard drain == nil else { return }
        let started = NIODeadline.now()
        let progress = progress
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let quietChecks = NIOLoopBoundBox(0, eventLoop: context.eventLoop)
        drain = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.quietPeriod, delay: .milliseconds(50)) { task in
            let now = NIODeadline.now()
            if now - started >= Self.servingDrain { progress.refuseNewRequests() }
            // Quiet twice in a row, with a read asked for in between: bytes that reached the
            // socket just before a check are read (and reset the quiet time) before the next.
            quietChecks.value = progress.isQuiet(for: Self.quietPeriod) ? quietChecks.value + 1 : 0
            guard quietChecks.value >= 2 || now - started >= Self.maxDrain else {
                if quietChecks.value == 1 { loopBound.value.read() }
                return
            }
            task.cancel()
            loopBound.value.close(mode: .input, promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    private func checkDeadline(context: ChannelHandlerContext) {
        guard let since = progress.partialSince, NIODeadline.now() - since > deadline else { return }
        check?.cancel()
        check = nil
        context.fireErrorCaught(FrameDecodingError.tooSlow(have: progress.pendingBytes, deadline: reportedDeadline))
    }
}
