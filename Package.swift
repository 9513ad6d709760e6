// swift-tools-version:6.1
import PackageDescription

// Every target compiles in Swift 6 mode with these upcoming features, so that an `any`
// existential, a missing import or an accidentally public dependency shows up in review.
// No unsafeFlags anywhere: the `Swann` product must stay usable as a dependency.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "swann",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Swann", targets: ["Swann"]),
        .library(name: "SwannServer", targets: ["SwannServer"]),
        .library(name: "SwannClient", targets: ["SwannClient"]),
        .executable(name: "swann", targets: ["swann"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Tools only: the HTTP side of the load generator (already built for HummingbirdTesting).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Tests only: reads docs/openapi.yaml to check the server against its spec.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Cache prefetch hints for the search loops (Swift has no prefetch intrinsic).
        .target(name: "CSwannHints"),
        // Linux system calls Swift cannot reach: kernel AIO (many O_DIRECT reads in flight from one
        // search thread) and renameat2 (an index replaced in one atomic step).
        .target(name: "CSwannLinuxAIO"),
        // AVX2 builds of the 8-bit kernels and AVX2 + FMA + F16C builds of the float kernels,
        // used where the CPU has them.
        .target(name: "CSwannKernels"),
        // Pure algorithms: no file or socket I/O.
        .target(name: "SwannCore", dependencies: ["CSwannHints", "CSwannKernels"], swiftSettings: strict),
        // Index format, vector files, posting stores.
        .target(
            name: "SwannStorage",
            dependencies: [
                "SwannCore", "CSwannKernels", "CSwannLinuxAIO", .product(name: "SystemPackage", package: "swift-system"),
                // Locks on pthread mutexes, which ThreadSanitizer sees (Synchronization.Mutex waits
                // on a futex it does not, so every contended Mutex was reported as a race).
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The public facade for embedding.
        .target(
            name: "Swann",
            dependencies: ["SwannCore", "SwannStorage", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            swiftSettings: strict
        ),
        // The binary TCP protocol: frames and messages, shared by the server and the client.
        .target(
            name: "SwannProtocol",
            dependencies: ["SwannCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // HTTP/JSON and TCP front ends, auth, limits, metrics, lifecycle.
        .target(
            name: "SwannServer",
            dependencies: [
                "Swann", "SwannProtocol", "SwannClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // async/await client for the TCP protocol.
        .target(
            name: "SwannClient",
            dependencies: [
                "SwannCore", "SwannProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "swann",
            dependencies: [
                "Swann", "SwannServer", "SwannClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Dataset and benchmark tools (synthetic data, kernel throughput).
        .executableTarget(
            name: "SwannTools",
            dependencies: [
                "Swann", "SwannClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tools/SwannTools",
            swiftSettings: strict
        ),
        .testTarget(name: "SwannCoreTests", dependencies: ["SwannCore"], swiftSettings: strict),
        .testTarget(name: "SwannStorageTests", dependencies: ["SwannStorage", "SwannTestSupport"], swiftSettings: strict),
        // Fixtures shared by the test targets (the bundled example, tie-tolerant comparison).
        .target(name: "SwannTestSupport", dependencies: ["Swann"], path: "Tests/SwannTestSupport", swiftSettings: strict),
        // Counts mallocs per thread in the test executable (the allocation-free query path's test).
        .target(name: "CSwannAllocationCounter", path: "Tests/CSwannAllocationCounter"),
        .testTarget(
            name: "SwannTests",
            dependencies: ["Swann", "SwannStorage", "SwannTestSupport", "CSwannAllocationCounter"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SwannServerTests",
            dependencies: [
                "SwannServer", "SwannClient", "SwannProtocol", "SwannTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        // The frame decoder and message codecs on their own (no server).
        .testTarget(
            name: "SwannProtocolTests",
            dependencies: ["SwannProtocol", "SwannCore", .product(name: "NIOTestUtils", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(name: "SwannClientTests", dependencies: ["SwannClient", "SwannProtocol"], swiftSettings: strict),
        // End-to-end tests that run the built `swann` binary.
        .testTarget(
            name: "SwannCLITests",
            dependencies: [
                "swann", "Swann", "SwannClient", "SwannTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)

// libFuzzer targets, built only by Tools/fuzz (with -sanitize=fuzzer,address, where libFuzzer
// supplies main): a normal build never sees this target.
if Context.environment["SWANN_FUZZ"] != nil {
    package.targets += [
        .target(name: "CSwannFuzz", path: "Tools/CSwannFuzz"),
        .executableTarget(
            name: "SwannFuzz",
            dependencies: ["CSwannFuzz", "Swann", "SwannProtocol", "SwannServer", "SwannStorage", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tools/SwannFuzz",
            swiftSettings: strict
        ),
    ]
}
