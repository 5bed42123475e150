// Asks Kafka's own Topic class about topic names, for tests/compiler/test_kafka_names_java.py.
// stdin: one name per line (UTF-8). stdout: per line "valid" or "invalid", then a tab and the
// name's collision key when Topic.hasCollision says it collides with the previous line's name.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.internals.Topic;

public class KafkaTopicNames {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        String previous = null;
        for (String name = in.readLine(); name != null; name = in.readLine()) {
            String collides = previous != null && Topic.hasCollision(name, previous) ? "collides" : "-";
            out.println((Topic.isValid(name) ? "valid" : "invalid") + "\t" + collides);
            previous = name;
        }
    }
}
