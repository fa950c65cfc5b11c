package io.nthlb.rules;

/** A rule that iptables would refuse: where it is and iptables' own words for why. */
public record RuleError(Origin origin, String message) {

    /** {@code FILE:LINE: message}, the form every command prints. */
    @Override
    public String toString() {
        return origin + ": " + message;
    }
}
