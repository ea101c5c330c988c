"""The paper's key-value view of an MLP, verified numerically (`lorarecycle theory`)."""
