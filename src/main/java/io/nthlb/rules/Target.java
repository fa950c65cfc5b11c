package io.nthlb.rules;

/** What {@code -j} (or {@code -g}) names: where a connection goes when every match of its rule holds. */
public sealed interface Target permits DnatTarget, RedirectTarget, VerdictTarget, JumpTarget, PassiveTarget {
}
