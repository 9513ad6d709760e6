extension Duration {
    /// The duration as fractional seconds. `package`, not public: an embedding app's own
    /// extensions of `Duration` should not collide with ours.
    package var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
