package io.nthlb.rules;

/**
 * A rule that iptables would refuse: where it is and iptables' own words for why. The message is kept
 * printable and short whatever it quotes: control characters are escaped ({@code \n}, {@code \x1b}) and a
 * message longer than {@link #MAX_MESSAGE} characters keeps its start and end around {@code ...}.
 */
public record RuleError(Origin origin, String message) {
    /** The longest message kept whole. */
    static final int MAX_MESSAGE = 300;
    private static final int KEPT_END = 60;

    public RuleError {
        message = excerpt(message);
    }

    private static String excerpt(String text) {
        if (text.length() > MAX_MESSAGE) {
            text = text.substring(0, MAX_MESSAGE - KEPT_END - 3) + "..." + text.substring(text.length() - KEPT_END);
        }
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean control = c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0);
            if (control && sb == null) {
                sb = new StringBuilder(text.length() + 16).append(text, 0, i);
            }
            if (!control) {
                if (sb != null) {
                    sb.append(c);
                }
            } else if (c == '\n') {
                sb.append("\\n");
            } else if (c == '\r') {
                sb.append("\\r");
            } else if (c == '\t') {
                sb.append("\\t");
            } else {
                sb.append(String.format("\\x%02x", (int) c));
            }
        }
        return sb == null ? text : sb.toString();
    }

    /** {@code FILE:LINE: message}, the form every command prints. */
    @Override
    public String toString() {
        return origin + ": " + message;
    }
}
