"""Reference data of the synthetic payer: code sets, prices, service scenarios, names and places.

Procedure codes are real CPT / HCPCS level II codes and diagnoses real ICD-10-CM codes (the packaged
`data/icd10cm_codes.txt`), so downstream validation sees realistic shapes. Prices are rough national
allowed amounts in cents per unit; they only need to be plausible, not a fee schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

# --- diagnoses ---------------------------------------------------------------------------------

COMMON_DX_COUNT = 50  # the first codes of the packaged list are the everyday ones


@cache
def icd10cm_codes() -> tuple[str, ...]:
    """The packaged ICD-10-CM codes (no dots), most common first, without duplicates."""
    text = resources.files(__package__).joinpath("data/icd10cm_codes.txt").read_text("utf-8")
    seen: dict[str, None] = {}
    for line in text.splitlines():
        code = line.strip()
        if code and not code.startswith("#"):
            seen.setdefault(code, None)
    return tuple(seen)


# Present-on-admission indicators for inpatient claims, with their weights.
POA_VALUES = (("Y", 85), ("N", 8), ("U", 2), ("W", 2), ("1", 3))

# --- provider kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderKind:
    """A kind of provider: who it is (NPPES entity type, NUCC taxonomy) and how common it is."""

    name: str
    entity_type: str  # "1" individual, "2" organisation
    taxonomies: tuple[str, ...]
    weight: float
    credentials: tuple[str, ...] = ()  # individuals: name suffix, one per taxonomy
    org_suffixes: tuple[str, ...] = ()  # organisations: how the name ends


PROVIDER_KINDS: tuple[ProviderKind, ...] = (
    ProviderKind(
        "pcp",
        "1",
        ("207Q00000X", "207R00000X", "208D00000X", "208000000X"),
        20,
        ("MD", "MD", "DO", "MD"),
    ),
    ProviderKind("midlevel", "1", ("363LF0000X", "363A00000X"), 6, ("NP", "PA")),
    ProviderKind("cardio", "1", ("207RC0000X",), 3, ("MD",)),
    ProviderKind("derm", "1", ("207N00000X",), 2, ("MD",)),
    ProviderKind("ortho", "1", ("207X00000X",), 3, ("MD",)),
    ProviderKind("obgyn", "1", ("207V00000X",), 3, ("MD",)),
    ProviderKind(
        "psych", "1", ("2084P0800X", "103T00000X", "1041C0700X"), 5, ("MD", "PhD", "LCSW")
    ),
    ProviderKind("pt", "1", ("225100000X",), 3, ("DPT",)),
    ProviderKind("chiro", "1", ("111N00000X",), 2, ("DC",)),
    ProviderKind("er", "1", ("207P00000X",), 3, ("MD",)),
    ProviderKind("radiologist", "1", ("2085R0202X",), 2, ("MD",)),
    ProviderKind("anesth", "1", ("207L00000X",), 2, ("MD",)),
    ProviderKind("gi", "1", ("207RG0100X",), 1.5, ("MD",)),
    ProviderKind("ophth", "1", ("207W00000X",), 1.5, ("MD",)),
    ProviderKind("optom", "1", ("152W00000X",), 1.5, ("OD",)),
    ProviderKind("hospital", "2", ("282N00000X",), 2, (), ("Hospital", "Medical Center")),
    ProviderKind("snf", "2", ("314000000X",), 1, (), ("Care Center", "Rehabilitation")),
    ProviderKind("hha", "2", ("251E00000X",), 1, (), ("Home Health", "Visiting Nurses")),
    ProviderKind("lab", "2", ("291U00000X",), 1.5, (), ("Clinical Laboratory", "Diagnostics")),
    ProviderKind("imaging", "2", ("261QR0200X",), 1.5, (), ("Imaging Center", "Radiology")),
    ProviderKind("urgent", "2", ("261QU0200X",), 2, (), ("Urgent Care", "Walk-In Clinic")),
    ProviderKind("dme", "2", ("332B00000X",), 1, (), ("Medical Supply", "Home Medical")),
    ProviderKind("ambulance", "2", ("341600000X",), 0.5, (), ("Ambulance", "EMS")),
    ProviderKind("fqhc", "2", ("261QF0400X",), 1, (), ("Community Health Center",)),
    ProviderKind("optical", "2", ("332H00000X",), 0.5, (), ("Optical", "Eyewear")),
    ProviderKind("asc", "2", ("261QA1903X",), 1, (), ("Surgery Center",)),
)

# --- procedures ----------------------------------------------------------------------------------

# Allowed amount in cents per unit, before the line-of-business factor.
PRICES: dict[str, int] = {
    # evaluation and management
    "99202": 7300, "99203": 11200, "99204": 16700, "99205": 22000,
    "99211": 2400, "99212": 5700, "99213": 9200, "99214": 13000, "99215": 18300,
    "99283": 6800, "99284": 11700, "99285": 17000,
    "99223": 27500, "99232": 10000, "99238": 7500,
    "99391": 10000, "99392": 10500, "99393": 10500, "99394": 11500,
    "99395": 11000, "99396": 11800, "99397": 12800,
    "G0438": 17000, "G0439": 13000, "T1015": 15000, "H0031": 6000,
    # vaccines and injections
    "90686": 2200, "90715": 4000, "90471": 2200, "G0008": 3600, "96372": 1500, "96374": 4200,
    "J1100": 10, "J3301": 170, "J1885": 50, "J0696": 100, "J1030": 350, "J7030": 150, "J2405": 10,
    # laboratory
    "80053": 1100, "80048": 850, "85025": 800, "80061": 1300, "83036": 1000, "84443": 1700,
    "82947": 400, "81001": 320, "81002": 280, "87086": 850, "36415": 300, "87880": 1300,
    "87804": 1300, "87635": 5100, "0240U": 14200, "0001U": 72000, "82306": 3000, "84153": 1800,
    "87491": 3500, "88175": 2700, "87624": 3500,
    # imaging and cardiology
    "71046": 3000, "73030": 3000, "73562": 3500, "72148": 22500, "70450": 11000, "74177": 35000,
    "77067": 13500, "76700": 11000, "76805": 14000, "93000": 1700, "93005": 900, "93010": 800,
    "93306": 20500, "93015": 7500,
    # procedures
    "11102": 9500, "17000": 6000, "17110": 11000, "20610": 6500, "12001": 11000, "12002": 13500,
    "29881": 52000, "45378": 39000, "45380": 46000, "43239": 32000, "66984": 56000,
    "00810": 2200, "00142": 2200, "01382": 2200,
    # behavioural health, therapy, eye care
    "90791": 17500, "90834": 10500, "90837": 15500, "97161": 10000, "97110": 3000, "97140": 2800,
    "97530": 3500, "98940": 3000, "98941": 4200, "92004": 15000, "92014": 12500, "92015": 2500,
    # HCPCS supplies, transport, home health
    "E0114": 3000, "E0601": 9000, "A4253": 850, "E0143": 6000, "L3908": 5500, "A0427": 45000,
    "A0429": 38000, "A0425": 800, "V2020": 9000, "V2100": 4000, "G0299": 15000, "G0151": 4500,
    # CPT category II quality codes are reported at no charge
    "3074F": 0, "1036F": 0, "3008F": 0,
}  # fmt: skip

# Units of service billed per code when more than one.
UNITS: dict[str, tuple[int, int]] = {
    "J1100": (4, 10), "J3301": (1, 4), "J2405": (4, 8), "J1885": (1, 2), "97110": (1, 4),
    "97140": (1, 2), "97530": (1, 3), "A4253": (1, 3), "A0425": (3, 25), "00810": (5, 9),
    "00142": (5, 8), "01382": (6, 10), "G0299": (2, 8), "G0151": (2, 6),
}  # fmt: skip

# Institutional lines without a procedure code are priced by revenue code (cents per unit).
REVENUE_PRICES: dict[str, int] = {
    "0120": 250000, "0250": 35000, "0270": 20000, "0360": 450000, "0370": 90000, "0710": 60000,
}  # fmt: skip

# Codes whose lines take an LT/RT modifier.
SIDED = frozenset({"73030", "73562", "20610", "29881", "66984", "L3908"})
# Office and emergency visits: the line that takes modifier 25 when a procedure is billed too.
EM_VISITS = frozenset(
    {"99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"}
    | {"99283", "99284", "99285"}
)
# Codes denied as bundled (CARC 97) more often than others.
OFTEN_BUNDLED = frozenset({"36415", "96372", "93010", "97140", "93005"})

PREVENTIVE_BY_AGE = ((1, "99391"), (5, "99392"), (12, "99393"), (18, "99394"), (40, "99395"))
PREVENTIVE_ADULT_65 = "99397"
PREVENTIVE_ADULT_40 = "99396"


def preventive_visit(age: int) -> str:
    """The CPT preventive-medicine visit code for an established patient of this age."""
    for upper, code in PREVENTIVE_BY_AGE:
        if age < upper:
            return code
    return PREVENTIVE_ADULT_40 if age < 65 else PREVENTIVE_ADULT_65


# --- service scenarios --------------------------------------------------------------------------

# Cost-share category of a line.
CAT_OTHER, CAT_OFFICE, CAT_ER, CAT_PREVENTIVE = 0, 1, 2, 3
PREV = "@PREV"  # placeholder: the preventive visit code for the member's age
VAX_ADMIN = "@VAXADMIN"  # placeholder: G0008 for Medicare Advantage, else 90471


@dataclass(frozen=True)
class LineSpec:
    """One possible line of a scenario: the codes it draws from and how likely it is billed."""

    codes: tuple[str | None, ...]  # None: an institutional line without a procedure code
    prob: float = 1.0
    revenue: str | None = None
    category: int = CAT_OTHER
    follows: bool = False  # billed exactly when the previous line spec was billed


@dataclass(frozen=True)
class Scenario:
    """A kind of encounter: claim form, who bills, where, which lines and diagnoses."""

    name: str
    weight: float
    form: str  # "P" professional, "I" institutional
    billing: str  # provider kind name
    rendering: str | None  # provider kind of the rendering provider; "self" = the billing one
    lines: tuple[LineSpec, ...]
    dx: tuple[str, ...]
    pos: tuple[str, ...] = ()  # place of service (professional)
    bill_type: str = ""  # first three digits of the UB-04 type of bill (institutional)
    stay: tuple[int, int] = (0, 0)  # days from statement from to thru
    lob: tuple[str, ...] = ()  # only for these lines of business, when set
    gender: str = ""  # only for this gender, when set
    min_age: int = 0


_L = LineSpec
_DX_RESP = ("J069", "J029", "J020", "J0190", "R051", "R509", "J209", "U071", "B349", "H6691")
_DX_CHRONIC = ("E119", "E1165", "I10", "E785", "E039", "J449", "J45909", "F419", "K219", "R5383")
_DX_MSK = ("M5450", "M5459", "M542", "M25561", "M25562", "M25511", "M1711", "M170", "M5416")
_DX_CARDIO = ("I10", "I2510", "I4891", "I509", "R079", "R0789", "R002", "I480")
_DX_MENTAL = ("F329", "F331", "F411", "F419", "F4323", "F4310", "F909")
_DX_ER = ("R079", "R109", "S0990XA", "S93401A", "R55", "J189", "N390", "R519", "S61411A")
_DX_LAB = ("E119", "E785", "I10", "Z0000", "R5383", "D649", "E039", "Z131", "R7303")
_DX_INPATIENT = ("J189", "I214", "I509", "A419", "J441", "N179", "K3580", "S72001A", "I639")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "office_visit", 30, "P", "pcp", "self",
        (
            _L(("99212", "99213", "99213", "99214", "99214", "99215"), category=CAT_OFFICE),
            _L(("36415",), 0.25),
            _L(("80053", "85025", "83036", "80061"), 0.2),
            _L(("J1100", "J3301", "J1885"), 0.06),
            _L(("96372",), follows=True),
            _L(("3074F", "1036F", "3008F"), 0.15),
            _L(("87880", "87804"), 0.1),
        ),
        _DX_RESP + _DX_CHRONIC, pos=("11", "11", "11", "11", "02", "10"),
    ),
    Scenario(
        "midlevel_visit", 6, "P", "midlevel", "self",
        (_L(("99212", "99213", "99214"), category=CAT_OFFICE), _L(("87880", "87804"), 0.2)),
        _DX_RESP, pos=("11", "20"),
    ),
    Scenario(
        "preventive", 10, "P", "pcp", "self",
        (
            _L((PREV,), category=CAT_PREVENTIVE),
            _L(("90686", "90715"), 0.3, category=CAT_PREVENTIVE),
            _L((VAX_ADMIN,), follows=True, category=CAT_PREVENTIVE),
            _L(("36415",), 0.4),
            _L(("80053",), 0.3),
            _L(("80061",), 0.3),
            _L(("83036",), 0.15),
        ),
        ("Z0000", "Z0001", "Z23"), pos=("11",),
    ),
    Scenario(
        "annual_wellness", 3, "P", "pcp", "self",
        (_L(("G0438", "G0439", "G0439"), category=CAT_PREVENTIVE),),
        ("Z0000", "Z0001"), pos=("11",), lob=("MEDICARE_ADVANTAGE",), min_age=65,
    ),
    Scenario(
        "cardiology", 5, "P", "cardio", "self",
        (
            _L(("99203", "99204", "99213", "99214", "99215"), category=CAT_OFFICE),
            _L(("93000",), 0.5),
            _L(("93306",), 0.2),
            _L(("93015",), 0.1),
        ),
        _DX_CARDIO, pos=("11", "22"), min_age=18,
    ),
    Scenario(
        "dermatology", 4, "P", "derm", "self",
        (
            _L(("99203", "99213", "99214"), category=CAT_OFFICE),
            _L(("11102",), 0.25),
            _L(("17000",), 0.3),
            _L(("17110",), 0.2),
        ),
        ("L700", "L309", "L570", "L821", "D485", "L400", "B079", "C4491"), pos=("11",),
    ),
    Scenario(
        "orthopedics", 5, "P", "ortho", "self",
        (
            _L(("99203", "99204", "99213", "99214"), category=CAT_OFFICE),
            _L(("20610",), 0.3),
            _L(("J3301", "J1030"), follows=True),
            _L(("73030", "73562"), 0.4),
        ),
        (*_DX_MSK, "S93401A", "S52501A", "M7541"), pos=("11", "22"),
    ),
    Scenario(
        "obgyn", 4, "P", "obgyn", "self",
        (
            _L(("99213", "99214"), category=CAT_OFFICE),
            _L(("76805",), 0.2),
            _L(("88175",), 0.2),
            _L(("87491",), 0.15),
            _L(("87624",), 0.1),
        ),
        ("Z3480", "Z3481", "Z3482", "Z01419", "N926", "N946", "N951", "Z3009"),
        pos=("11",), gender="F", min_age=14,
    ),
    Scenario(
        "behavioral_health", 6, "P", "psych", "self",
        (_L(("90791", "90834", "90834", "90837", "90837"), category=CAT_OFFICE),),
        _DX_MENTAL, pos=("11", "02", "10"), min_age=5,
    ),
    Scenario(
        "physical_therapy", 5, "P", "pt", "self",
        (
            _L(("97161",), 0.15),
            _L(("97110",)),
            _L(("97140",), 0.6),
            _L(("97530",), 0.4),
        ),
        (*_DX_MSK, "S39012A", "S161XXA", "M6281"), pos=("11",),
    ),
    Scenario(
        "chiropractic", 3, "P", "chiro", "self",
        (_L(("98940", "98940", "98941")), _L(("97140",), 0.3)),
        ("M9903", "M9901", "M9902", "M5450", "M542", "M546"), pos=("11",), min_age=12,
    ),
    Scenario(
        "urgent_care", 6, "P", "urgent", "midlevel",
        (
            _L(("99203", "99213", "99214"), category=CAT_OFFICE),
            _L(("87880",), 0.2),
            _L(("87804",), 0.2),
            _L(("87635", "0240U"), 0.1),
            _L(("81002",), 0.1),
            _L(("12001",), 0.05),
            _L(("J1885",), 0.05),
            _L(("96372",), follows=True),
        ),
        (*_DX_RESP, "S93401A", "S61411A", "N390"), pos=("20",),
    ),
    Scenario(
        "emergency_physician", 4, "P", "er", "self",
        (
            _L(("99283", "99284", "99284", "99285"), category=CAT_ER),
            _L(("93010",), 0.2),
            _L(("12002",), 0.08),
        ),
        _DX_ER, pos=("23",),
    ),
    Scenario(
        "laboratory", 12, "P", "lab", None,
        (
            _L(("80053",), 0.5),
            _L(("85025",), 0.5),
            _L(("80061",), 0.4),
            _L(("83036",), 0.3),
            _L(("84443",), 0.3),
            _L(("82306",), 0.15),
            _L(("84153",), 0.1),
            _L(("81001",), 0.2),
            _L(("87086",), 0.1),
            _L(("0001U",), 0.01),
            _L(("36415",), 0.5),
        ),
        _DX_LAB, pos=("81",),
    ),
    Scenario(
        "imaging", 6, "P", "imaging", "radiologist",
        (_L(("71046", "72148", "70450", "74177", "77067", "76700", "73030", "73562")),),
        ("R079", "M5450", "R109", "R0602", "Z1231", "M25561", "R519", "R0789"), pos=("11", "22"),
    ),
    Scenario(
        "durable_medical_equipment", 2, "P", "dme", None,
        (_L(("E0114", "E0601", "A4253", "A4253", "E0143", "L3908")),),
        ("G4733", "E119", "S93401A", "R262", "S6390XA"), pos=("12",),
    ),
    Scenario(
        "ambulance", 1, "P", "ambulance", None,
        (_L(("A0427", "A0429")), _L(("A0425",))),
        ("R079", "S72001A", "R55", "I639", "R4182"), pos=("41",),
    ),
    Scenario(
        "colonoscopy", 1.5, "P", "gi", "self",
        (_L(("45378", "45380")),),
        ("Z1211", "K635", "K5730", "Z1212"), pos=("24", "22"), min_age=40,
    ),
    Scenario(
        "anesthesia", 1.5, "P", "anesth", "self",
        (_L(("00810", "00142", "01382")),),
        ("Z1211", "H2511", "H2512", "M1711", "K635"), pos=("24", "22"), min_age=18,
    ),
    Scenario(
        "cataract_surgery", 1, "P", "ophth", "self",
        (_L(("66984",)),),
        ("H2511", "H2512", "H2513", "H269"), pos=("24",), min_age=50,
    ),
    Scenario(
        "eye_exam", 2, "P", "optom", "self",
        (_L(("92004", "92014", "92014"), category=CAT_OFFICE), _L(("92015",), 0.5)),
        ("H5213", "H524", "H52223", "E113293", "H04123", "Z0100"), pos=("11",),
    ),
    Scenario(
        "eyewear", 1, "P", "optical", None,
        (_L(("V2020",)), _L(("V2100",))),
        ("H5213", "H524", "H52223"), pos=("11",),
    ),
    Scenario(
        "community_health_center", 4, "P", "fqhc", "pcp",
        (_L(("T1015",)), _L(("H0031",), 0.1)),
        _DX_RESP + _DX_CHRONIC + ("Z00129", "Z0000"), pos=("50",), lob=("MEDICAID",),
    ),
    Scenario(
        "hospitalist", 1.5, "P", "pcp", "self",
        (_L(("99223",)), _L(("99232",), 0.7), _L(("99238",), 0.8)),
        _DX_INPATIENT, pos=("21",), stay=(1, 5),
    ),
    Scenario(
        "inpatient_stay", 2, "I", "hospital", None,
        (
            _L((None,), revenue="0120"),
            _L((None,), 0.9, revenue="0250"),
            _L(("80053",), 0.8, revenue="0301"),
            _L(("85025",), 0.8, revenue="0305"),
            _L(("71046",), 0.5, revenue="0324"),
            _L((None,), 0.3, revenue="0360"),
            _L((None,), follows=True, revenue="0710"),
            _L(("93005",), 0.3, revenue="0730"),
            _L(("J2405",), 0.3, revenue="0636"),
        ),
        _DX_INPATIENT, bill_type="011", stay=(1, 7),
    ),
    Scenario(
        "emergency_room", 4, "I", "hospital", None,
        (
            _L(("99283", "99284", "99284", "99285"), revenue="0450", category=CAT_ER),
            _L(("80053",), 0.4, revenue="0301"),
            _L(("85025",), 0.4, revenue="0305"),
            _L(("71046",), 0.3, revenue="0324"),
            _L(("70450",), 0.15, revenue="0351"),
            _L(("74177",), 0.15, revenue="0350"),
            _L(("J1885", "J2405"), 0.2, revenue="0636"),
            _L(("96374",), follows=True, revenue="0260"),
            _L(("J7030",), 0.2, revenue="0636"),
            _L(("93005",), 0.2, revenue="0730"),
        ),
        _DX_ER, bill_type="013",
    ),
    Scenario(
        "outpatient_surgery", 1.5, "I", "asc", None,
        (
            _L(("29881", "45378", "45380", "43239", "66984"), revenue="0360"),
            _L((None,), 0.9, revenue="0370"),
            _L((None,), 0.8, revenue="0250"),
            _L((None,), 0.7, revenue="0710"),
            _L((None,), 0.5, revenue="0270"),
        ),
        ("M1711", "Z1211", "K635", "K219", "H2511", "M2011"), bill_type="083", min_age=18,
    ),
    Scenario(
        "outpatient_diagnostics", 2, "I", "hospital", None,
        (
            _L(("71046",), 0.3, revenue="0324"),
            _L(("72148",), 0.2, revenue="0610"),
            _L(("77067",), 0.2, revenue="0403"),
            _L(("76700",), 0.2, revenue="0402"),
            _L(("80053",), 0.4, revenue="0301"),
            _L(("85025",), 0.4, revenue="0305"),
        ),
        (*_DX_LAB, "Z1231", "M5450", "R109"), bill_type="013",
    ),
    Scenario(
        "skilled_nursing", 0.5, "I", "snf", None,
        (
            _L((None,), revenue="0120"),
            _L(("97110",), revenue="0420"),
            _L(("97530",), 0.7, revenue="0430"),
            _L((None,), 0.8, revenue="0250"),
        ),
        ("I509", "J441", "S72001A", "Z471", "Z96651", "M6281", "R262"),
        bill_type="021", stay=(5, 20), min_age=50,
    ),
    Scenario(
        "home_health", 0.5, "I", "hha", None,
        (_L(("G0299",), revenue="0551"), _L(("G0151",), 0.6, revenue="0421")),
        ("I509", "J441", "Z471", "Z96651", "M6281", "E11621"),
        bill_type="032", stay=(7, 20), min_age=40,
    ),
)  # fmt: skip

# Claim adjustment reason codes for denied lines, with their group and weight.
DENIAL_REASONS = (
    ("CO", "97", 30),  # bundled into another service
    ("CO", "16", 20),  # missing information
    ("CO", "96", 15),  # non-covered charge
    ("CO", "50", 12),  # not medically necessary
    ("CO", "4", 8),  # modifier inconsistent with the procedure
    ("CO", "197", 8),  # precertification absent
    ("OA", "18", 7),  # duplicate service
)
NOT_COVERED_REASON = ("CO", "27")  # expenses incurred after coverage terminated
TIMELY_FILING_REASON = ("CO", "29")

# --- plans ----------------------------------------------------------------------------------------

# (name, line of business, product type, funding type) of the plans in the initial load.
PLANS: tuple[tuple[str, str, str, str], ...] = (
    ("Summit Health HMO Silver", "COMMERCIAL", "HMO", "FULLY_INSURED"),
    ("Summit Health PPO Gold", "COMMERCIAL", "PPO", "FULLY_INSURED"),
    ("Summit Health EPO Bronze", "COMMERCIAL", "EPO", "FULLY_INSURED"),
    ("Summit Health HDHP with HSA", "COMMERCIAL", "HDHP", "FULLY_INSURED"),
    ("Acme Manufacturing Employee PPO", "COMMERCIAL", "PPO", "ASO"),
    ("Northwind Schools HDHP", "COMMERCIAL", "HDHP", "ASO"),
    ("Contoso Retail Employee HMO", "COMMERCIAL", "HMO", "ASO"),
    ("Fabrikam Technology EPO", "COMMERCIAL", "EPO", "ASO"),
    ("Summit Medicare Advantage HMO", "MEDICARE_ADVANTAGE", "HMO", "FULLY_INSURED"),
    ("Summit Medicare Advantage PPO", "MEDICARE_ADVANTAGE", "PPO", "FULLY_INSURED"),
    ("Summit Medicaid Managed Care", "MEDICAID", "HMO", "FULLY_INSURED"),
    ("Summit Kids CHIP", "MEDICAID", "HMO", "FULLY_INSURED"),
)
PILOT_PLAN_NAMES = ("Virtual First", "Narrow Network", "Direct Contract", "Centers of Excellence")


@dataclass(frozen=True)
class CostShare:
    """Member cost sharing of a plan design (amounts in cents)."""

    deductible_rate: float  # share of lines on which deductible still applies
    deductible_max: int
    copay_pcp: int
    copay_specialist: int
    copay_er: int
    coinsurance_pct: int
    uses_copays: bool


COST_SHARE: dict[tuple[str, str], CostShare] = {
    ("COMMERCIAL", "HMO"): CostShare(0.05, 50000, 2000, 4000, 15000, 0, True),
    ("COMMERCIAL", "PPO"): CostShare(0.25, 100000, 2500, 5000, 20000, 20, True),
    ("COMMERCIAL", "EPO"): CostShare(0.2, 75000, 3000, 5000, 20000, 10, True),
    ("COMMERCIAL", "HDHP"): CostShare(0.6, 300000, 0, 0, 0, 20, False),
    ("MEDICARE_ADVANTAGE", "HMO"): CostShare(0.0, 0, 0, 3500, 9000, 20, True),
    ("MEDICARE_ADVANTAGE", "PPO"): CostShare(0.05, 25000, 1000, 4000, 10000, 20, True),
    ("MEDICARE_ADVANTAGE", "EPO"): CostShare(0.05, 25000, 1000, 4000, 10000, 20, True),
    ("MEDICARE_ADVANTAGE", "HDHP"): CostShare(0.3, 100000, 0, 0, 0, 20, False),
    ("MEDICAID", "HMO"): CostShare(0.0, 0, 0, 0, 0, 0, True),
    ("MEDICAID", "PPO"): CostShare(0.0, 0, 0, 0, 0, 0, True),
    ("MEDICAID", "EPO"): CostShare(0.0, 0, 0, 0, 0, 0, True),
    ("MEDICAID", "HDHP"): CostShare(0.0, 0, 0, 0, 0, 0, True),
}
# Allowed amounts relative to the base price, by line of business.
PRICE_FACTOR = {"COMMERCIAL": 1.45, "MEDICARE_ADVANTAGE": 1.0, "MEDICAID": 0.72}

# --- people and places ---------------------------------------------------------------------------

FIRST_NAMES_F = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah",
    "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily",
    "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Laura",
    "Sharon", "Cynthia", "Amy", "Angela", "Anna", "Brenda", "Emma", "Olivia", "Sophia", "Ava",
    "Isabella", "Mia", "Abigail", "Harper", "Camila", "Aaliyah", "Mei", "Priya", "Guadalupe",
    "Zoë", "Renée", "Siobhan", "Ngozi",
)  # fmt: skip
FIRST_NAMES_M = (
    "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
    "Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew",
    "Paul", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason",
    "Edward", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Liam", "Noah",
    "Oliver", "Elijah", "Lucas", "Mateo", "Santiago", "Wei", "Arjun", "Jamal", "Dmitri", "José",
    "Seán", "Kwame", "Hiroshi",
)  # fmt: skip
FIRST_NAMES_U = ("Alex", "Jordan", "Taylor", "Casey", "Riley", "Morgan", "Avery", "Quinn")
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
    "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera",
    "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz",
    "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed",
    "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks", "Chavez",
    "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price", "Alvarez",
    "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez", "O'Brien",
    "O'Connor", "Smith-Jones", "García-López", "McDonald", "D'Angelo", "Van Buren", "Nowak",
    "Kowalski", "Okafor", "Chen", "Wang", "Singh", "Yamamoto",
)  # fmt: skip
STREETS = (
    "Maple", "Oak", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Main", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Highland", "Church", "River", "Meadow", "Forest",
    "Willow", "Spring", "Chestnut", "Franklin", "Madison", "Ridge", "Valley", "Cherry", "Sycamore",
    "Dogwood", "Hickory", "Poplar", "Magnolia", "Birch", "Lakeview", "Mill", "Center", "Jefferson",
)  # fmt: skip
STREET_SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl", "Ter")
UNIT_PREFIXES = ("Apt", "Unit", "Ste", "#")

# (city, state, zip5): the payer's service area (mostly Ohio and its neighbours).
PLACES: tuple[tuple[str, str, str], ...] = (
    ("Columbus", "OH", "43215"), ("Columbus", "OH", "43201"), ("Columbus", "OH", "43214"),
    ("Cleveland", "OH", "44113"), ("Cleveland", "OH", "44102"), ("Cincinnati", "OH", "45202"),
    ("Cincinnati", "OH", "45211"), ("Dayton", "OH", "45402"), ("Toledo", "OH", "43604"),
    ("Akron", "OH", "44308"), ("Youngstown", "OH", "44503"), ("Canton", "OH", "44702"),
    ("Dublin", "OH", "43017"), ("Westerville", "OH", "43081"), ("Mansfield", "OH", "44902"),
    ("Athens", "OH", "45701"), ("Zanesville", "OH", "43701"), ("Lima", "OH", "45801"),
    ("Pittsburgh", "PA", "15222"), ("Erie", "PA", "16501"), ("Wheeling", "WV", "26003"),
    ("Huntington", "WV", "25701"), ("Lexington", "KY", "40507"), ("Louisville", "KY", "40202"),
    ("Covington", "KY", "41011"), ("Fort Wayne", "IN", "46802"), ("Indianapolis", "IN", "46204"),
    ("Detroit", "MI", "48226"), ("Ann Arbor", "MI", "48104"), ("Monroe", "MI", "48161"),
)  # fmt: skip
ORG_PREFIXES = (
    "Riverside", "Buckeye", "Lakeshore", "Summit County", "Valley", "Mercy", "St. Luke's",
    "Good Samaritan", "Heartland", "Northside", "Ohio Valley", "Grand River", "Maumee",
    "Cuyahoga", "Scioto", "Miami Valley", "Allegheny", "Bluegrass", "Hoosier", "Great Lakes",
)  # fmt: skip
