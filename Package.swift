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
    ],
    targets: [
        // Pure algorithms: no file or socket I/O.
        .target(name: "SwannCore", swiftSettings: strict),
        // Index format, vector files, posting stores.
        .target(
            name: "SwannStorage",
            dependencies: ["SwannCore", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        // The public facade for embedding.
        .target(name: "Swann", dependencies: ["SwannCore", "SwannStorage"], swiftSettings: strict),
        .target(name: "SwannServer", dependencies: ["Swann"], swiftSettings: strict),
        .target(name: "SwannClient", dependencies: ["SwannCore"], swiftSettings: strict),
        .executableTarget(
            name: "swann",
            dependencies: ["Swann", "SwannServer", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        // Dataset and benchmark tools (synthetic data, kernel throughput).
        .executableTarget(
            name: "SwannTools",
            dependencies: ["Swann", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tools/SwannTools",
            swiftSettings: strict
        ),
        .testTarget(name: "SwannCoreTests", dependencies: ["SwannCore"], swiftSettings: strict),
        .testTarget(name: "SwannStorageTests", dependencies: ["SwannStorage"], swiftSettings: strict),
        // Fixtures shared by the test targets (the bundled example, tie-tolerant comparison).
        .target(name: "SwannTestSupport", dependencies: ["Swann"], path: "Tests/SwannTestSupport", swiftSettings: strict),
        .testTarget(name: "SwannTests", dependencies: ["Swann", "SwannTestSupport"], swiftSettings: strict),
        .testTarget(name: "SwannServerTests", dependencies: ["SwannServer"], swiftSettings: strict),
        .testTarget(name: "SwannClientTests", dependencies: ["SwannClient"], swiftSettings: strict),
        // End-to-end tests that run the built `swann` binary.
        .testTarget(name: "SwannCLITests", dependencies: ["swann", "Swann", "SwannTestSupport"], swiftSettings: strict),
    ]
)
