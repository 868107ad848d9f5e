"""Word lists that tune the names dictionary for ML metadata.

The dictionary itself comes from Faker's person providers (see names_dictionary.py). It
contains every name, including names that are also everyday or ML words ("Mark",
"Grant", "Max", "Pearson", "Cox"). Those are WEAK: they count towards a name only next to
a clearly personal token, so "mark_graham" is a name and "max_depth", "Box-Cox" or
"Kaplan-Meier" are not. The list was drawn up once from English word frequencies, the
identifiers in common ML libraries and the eponyms of statistics and medicine, then
reviewed by hand; it is data, so extend it when a false positive shows a gap.
"""
from __future__ import annotations

WEAK_WORDS = frozenset("""
    ab ace ada add admiral ah al alabama ally alpha amat america amin among an angel angeles
    anon april arab arch arizona armijo art arts asia asks asp atlanta atlas auc august author
    autumn babe baby back bah bail ball ban banks barb bare barnard barthel bartlett baseline
    bass batch bath baum beard beat bee beer bell bera berlin bert best beta bill bills binner
    bins birch bird birmingham bishop bite black blas blessing block bo bode bond bones booth
    boss boston braden brain branch brands bray brick bridge bridges bright bristol brooklyn
    brown buck bud buddy bull burger burr bush byrd cal cam camps can canal candy cannon canny
    cant cap captain car cares carlo carolina carrier carry case cases cash ceil chambers chance
    char charity chase cherry chi chin china chip cho christ christian christians chuck church
    cid clay clear cleveland cliff cline close cochran cohort coll colon colonel cols columbia
    columbus comfort comment company compton con conn constant contractor cook corr council
    cousin cox cross cruise crystal cuba cuda dallas dam dare darling darwin dash data date
    davenport dawn day de dean debug deep deja del delaunay delta denver destiny dev diamond
    dick dickey diego dierckx dif dijkstra dino divine doc doctor doll dolly dom don dot drew
    dropout drum du duke dunn each earl early easter ecg echo ed edit edu ehr el elder elif ell
    elmo else emit english epoch era eres ernie essence eta eval ever ewa experiment fair fairy
    faith fall fan fancy farmer fate feature fed fee ferry fiedler field fields fisher fleet
    flood floor florida flowers font foot ford forest forget forum fox france frank freely
    french fresh friedman friend fuller gabor gang gates gauge gay gemma gene general geneva geo
    georgia german gibbs gil glass glasses gleason golden good goto governor grace grand grant
    gray green greenwood grey gross guard gun gut guy hall halley ham hammer hand handler hanley
    harm harmony harrell harsh hashimoto hasna hastie haven he heaven heck held hell hence hess
    hilbert hill hillary hills holder holdout holland hollywood holm holt hood hook hope horn
    hough house houston huber huey hug hull hung hunt hunter hurst hurt i ica icu india indiana
    indie innocent ion ireland iris irl isa isis israel isreal ivar jacobi jail jan january jax
    jay jerusalem jesus jet jin job johansen joke journey joy judge june junior junk justice
    kaiser kalman kelvin kendall kenya ker kern key kick kidney killer kind king kiss kit knight
    kong krogh label lady lam lamb lars law lawyer layer le lean lebedev legendre lehmann lemon
    len les less liberty lie lies lim lincoln line link lips list little ljung lo loan london
    long lord lorenz loss lot louisiana love low loyal lr lu lucky lung lut ma mac mad made
    madrid mae maj major male mall man mar marine mark marks marquardt marry mars martial marvel
    master mat mate math mathieu mats max maxima may mayor mcneil media meier melbourne merchant
    mercy meta metro mik milan mile miles mills min minor mio miracle missouri mo model mol
    montana monte moon more morse mountain mu muslim must my na nail nan nas nat nazi nevada
    newton ni nightly noble nola north nout oak obama odd odds olive optimizer oral orange org
    orlando ott owe pace page pages palm pan parent pareto paris park parkinson parks parts
    pascal pastor patience peace pearl pearson peer penny pepper per petty phoenix pi ping pink
    pleasant pol poland pole pop pope post potter power powers precious pred press price priest
    prince princess prod pu pugh put queen raid ram rand rao ravel ray read reader real reason
    red reed refs renders repo rice rich richmond ridder ridge ring risk river rivers robin roc
    rock rocky rod roll roman rome room roots rop rose rout rows royal run rush sad saga sage
    said saint sales salmon sandy sane sang sans santa sas savage scheduler score seed sem sen
    sep sepsis server seven sha shade shadow sharp she shi shine short sierra silk silver sim
    simi sine sing singer singleton sister skip sky small smart smirnov snow sol solar sole son
    song soon spain spence split spring springer stack staging stanford star stark sterling
    stock stone storm story street strong suits summer sun sunday sunny sunshine sweep swift
    sydney sys tab tan tank target tea tennessee test tex texas theta ties til till tiny tokens
    toms tone too toy trace train treasure tri trial true uni unique unknown unnamed urban us
    val valid vals van vander ver versa vi victory villa virginia von wage wall wallis walls
    ward warmup warner warrior wash washington waters way weeks welch wells were west white
    whitney wiener wilcox wild wiley will wing winter winters wise wolf wolfe wolfram wood woods
    worth xavier xu ye yi yoga york young zeta    var basic bar lower isin solver prior the over hide begin claude lof side topic sec pat gepa age
    olivetti loo dia ari moons mahal lora lindenstrauss
    colt crane doe dove fawn finch hare lark loon mare mule newt roo shad sincere steed wren
""".split())  # the last line: words of MLflow's generated run names ("sincere-wren-42")

# Courtesy titles: what follows is a name even when the dictionary does not know it.
TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mx", "prof", "sr", "sra", "srta", "mme",
                    "mlle", "herr", "frau", "sig", "sgt"})
# Surname particles: "Isis da Mata", "van der Berg".
PARTICLES = frozenset({"da", "de", "del", "della", "der", "den", "di", "do", "dos", "das", "du",
                       "la", "le", "van", "von", "bin", "binti", "al", "el", "ibn", "ter", "st"})
# Two-letter postal codes of US states and territories, for "City, ST 12345" addresses.
US_STATES = frozenset("""
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
    NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP AA AE AP
""".split())  # AA/AE/AP: military mail (APO/FPO/DPO)
