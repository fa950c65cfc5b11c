package io.nthlb.rules;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Reads a rules file from disk and parses it: the one load-and-report step that check, run and reload share. */
public final class RulesFile {
    private RulesFile() {
    }

    /**
     * Loads {@code path}; a file that cannot be read gives one error at line 0 rather than an exception,
     * so every caller reports it the same way.
     */
    public static LoadResult load(Path path) {
        String name = path.toString();
        try {
            return RulesParser.parse(name, () -> Files.newInputStream(path));
        } catch (IOException | SecurityException e) {
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            return new LoadResult(RulesParser.emptyTable(), List.of(new RuleError(new Origin(name, 0),
                    "cannot read rules file: " + why)), List.of());
        }
    }
}
