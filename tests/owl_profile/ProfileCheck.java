// Checks an ontology file against the OWL 2 DL and OWL 2 RL profiles with the OWL API
// (Debian's libowlapi-java). Prints one line per profile: "PROFILE ok" or
// "PROFILE n violation(s)" followed by the violations, one per line. Exit 0 either way; 2 on a
// file the OWL API cannot load. Run: java -cp "/usr/share/java/*:DIR" ProfileCheck FILE
import java.io.File;
import java.util.List;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.profiles.OWL2DLProfile;
import org.semanticweb.owlapi.profiles.OWL2RLProfile;
import org.semanticweb.owlapi.profiles.OWLProfile;
import org.semanticweb.owlapi.profiles.OWLProfileReport;
import org.semanticweb.owlapi.profiles.OWLProfileViolation;

public class ProfileCheck {
    public static void main(String[] args) {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        OWLOntology ontology;
        try {
            ontology = manager.loadOntologyFromOntologyDocument(new File(args[0]));
        } catch (Exception e) {
            System.out.println("LOAD-ERROR " + e.getMessage().split("\n")[0]);
            System.exit(2);
            return;
        }
        for (OWLProfile profile : new OWLProfile[] {new OWL2DLProfile(), new OWL2RLProfile()}) {
            OWLProfileReport report = profile.checkOntology(ontology);
            List<OWLProfileViolation> violations = report.getViolations();
            String name = profile instanceof OWL2DLProfile ? "DL" : "RL";
            System.out.println(violations.isEmpty() ? name + " ok" : name + " " + violations.size() + " violation(s)");
            for (OWLProfileViolation v : violations) {
                System.out.println("  " + v.toString().replace("\n", " "));
            }
        }
    }
}
