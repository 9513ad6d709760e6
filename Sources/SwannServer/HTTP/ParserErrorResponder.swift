import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Answers a request that the HTTP/1 parser refuses (a bad or repeated Content-Length,
/// Transfer-Encoding with Content-Length, NUL or CR in a header, too many headers, HTTP/0.9,
/// a TLS hello on the plain port, garbage) with the documented JSON error and closes.
///
/// Hummingbird answers these itself, but with an empty 400 body; clients and proxies then see
/// the one response of the API without `{"error": …}`. This handler sits after the HTTP
/// codecs and takes the parser's error before Hummingbird's request loop does. A parser error
/// in the middle of a request's body is left to the route reading that body (its 400 is JSON
/// too), so that no second response is ever written.
final class ParserErrorResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private var requestInProgress = false
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: requestInProgress = true
        case .body: break
        case .end: requestInProgress = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, !requestInProgress else {
            context.fireErrorCaught(error)
            return
        }
        guard !answered else { return }
        answered = true
        let body = ByteBuffer(bytes: Self.body(for: parserError))
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(body.readableBytes)
        headers[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .badRequest, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    static func body(for error: HTTPParserError) -> [UInt8] {
        let message = "the request is not valid HTTP/1.1 (\(error)); nothing was done"
        let encoded = try? JSONEncoder().encode(APIError.ErrorBody(error: .init(code: "invalid_http", message: message)))
        return encoded.map { Array($0) } ?? Array(#"{"error":{"code":"invalid_http","message":"the request is not valid HTTP/1.1"}}"#.utf8)
    }
}
