package io.nthlb.rules;

/**
 * A target nthlb accepts and prints but does not act on, because a userspace balancer is its backends'
 * client anyway: {@code MARK}, {@code MASQUERADE}, {@code SNAT}, {@code LOG}.
 */
public sealed interface PassiveTarget extends Target permits SnatTarget, MasqueradeTarget, MarkTarget, LogTarget {

    /** The target's name as printed. */
    String name();

    /** Whether the kernel stops walking the chain after it (SNAT and MASQUERADE do, MARK and LOG do not). */
    boolean terminates();
}
