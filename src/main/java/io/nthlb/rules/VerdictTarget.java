package io.nthlb.rules;

/** A built-in verdict that ends the walk of a chain: {@code ACCEPT} (no NAT) or {@code RETURN}. */
public record VerdictTarget(Verdict verdict) implements Target {

    /** The verdicts the nat table allows ({@code DROP} is refused by iptables there). */
    public enum Verdict {
        ACCEPT,
        RETURN
    }
}
