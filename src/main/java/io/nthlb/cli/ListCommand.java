package io.nthlb.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code nthlb list}: not built yet; the issue that owns it replaces this class. */
@Command(name = "list", mixinStandardHelpOptions = true, description = "(not built yet)")
public final class ListCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("nthlb list: not built yet");
        return 1;
    }
}
