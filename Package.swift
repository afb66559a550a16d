// swift-tools-version:6.0
import PackageDescription

// Dependencies are kept deliberately small: CI builds from a clean clone on 2 cores every run.
// HTTP (server and client) is written on plain SwiftNIO, which can also adopt a socket passed by systemd.
let package = Package(
    name: "fleet-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fleetd", targets: ["fleetd"]),
        .executable(name: "fleetctl", targets: ["fleetctl"]),
        .library(name: "KV", targets: ["KV"]),
        .library(name: "Fleet", targets: ["Fleet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // TLS for the fleet API, fleetctl and the store clients (BoringSSL: about 1.5 min of a clean build).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "KV",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Fleet",
            dependencies: [
                "KV",
                "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "fleetd",
            dependencies: [
                "Fleet", "KV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "fleetctl",
            dependencies: [
                "Fleet", "KV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "fleet-bench",
            dependencies: [
                "Fleet", "KV",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers shared by the test targets: child processes with a clean signal state.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KVTests", dependencies: ["KV", "TestSupport"]),
        .testTarget(name: "FleetTests", dependencies: ["Fleet", "KV", "TestSupport"]),
        .testTarget(
            name: "IntegrationTests", dependencies: ["Fleet", "KV", "TestSupport"],
            exclude: ["Compat/python_etcd_transcript.py"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
