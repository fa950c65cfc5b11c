package io.nthlb.rules;

/**
 * A target nthlb accepts and prints but does not act on, because a userspace balancer is its backends'
 * client anyway: {@code MARK}, {@code MASQUERADE}, {@code SNAT}, {@code LOG}.
 *
 * @param name       the target's name as printed
 * @param options    its options in the canonical form {@code iptables -S} prints, or "" for none
 * @param terminates whether the kernel stops walking the chain after it (SNAT and MASQUERADE do,
 *                   MARK and LOG do not)
 */
public record PassiveTarget(String name, String options, boolean terminates) implements Target {
}
