"""The words of the synthetic maps that interchange.generate writes: framework names,
places, people, journals, labels. Invented or generic; no real study is described."""

from __future__ import annotations

from evidence.models import Direction

# (category, children); more categories or children than listed get numbered names.
INTERVENTION_VOCABULARY: list[tuple[str, list[str]]] = [
    ("Social protection", [
        "Unconditional cash transfers", "Conditional cash transfers", "Social pensions",
        "Public works programmes", "Food transfers", "School feeding", "Cash plus programmes",
        "Fee waivers",
    ]),
    ("Livelihoods and finance", [
        "Microcredit", "Savings groups", "Graduation programmes", "Vocational training",
        "Business grants", "Mobile money", "Microinsurance", "Financial literacy training",
    ]),
    ("Health services", [
        "Community health workers", "Health insurance", "Vaccination campaigns",
        "Maternal health vouchers", "Performance-based financing", "Mobile health reminders",
        "Insecticide-treated bed nets", "Nutrition supplements",
    ]),
    ("Education", [
        "Teacher training", "Structured pedagogy", "School grants", "Scholarships",
        "Remedial tutoring", "Early childhood programmes", "Textbooks and materials",
        "Information on returns to schooling",
    ]),
    ("Water and sanitation", [
        "Community-led total sanitation", "Handwashing promotion", "Household water treatment",
        "Piped water connections", "Latrine subsidies", "Menstrual hygiene programmes",
        "Borehole rehabilitation", "Sanitation marketing",
    ]),
    ("Governance and accountability", [
        "Community monitoring", "Public audits", "Participatory budgeting", "Transparency portals",
        "Decentralisation reforms", "Anti-corruption campaigns", "Citizen report cards",
        "Election observation",
    ]),
    ("Gender and empowerment", [
        "Women's groups", "Gender transformative training", "Safe spaces for girls",
        "Legal aid", "Intimate partner violence prevention", "Child marriage prevention",
        "Women's land rights", "Couples counselling",
    ]),
    ("Agriculture", [
        "Input subsidies", "Small-scale irrigation", "Improved seed varieties",
        "Farmer field schools", "Land titling", "Market linkages", "Weather index insurance",
        "Livestock transfers",
    ]),
    ("Infrastructure and energy", [
        "Rural roads", "Rural electrification", "Clean cookstoves", "Housing upgrades",
        "Internet connectivity", "Transport subsidies", "Solar home systems", "Market upgrades",
    ]),
    ("Information and behaviour change", [
        "Mass media campaigns", "SMS nudges", "Peer education", "Product labelling",
        "Commitment devices", "Motivational counselling", "Edutainment", "Social norms messaging",
    ]),
    ("Humanitarian assistance", [
        "Emergency cash assistance", "Psychosocial support", "Emergency shelter",
        "Food vouchers in crises", "Child-friendly spaces", "Cash for work after disasters",
        "Disaster preparedness training", "Refugee livelihood support",
    ]),
    ("Environment and climate", [
        "Payments for ecosystem services", "Community forest management", "Protected areas",
        "Climate-smart agriculture", "Fishing quotas", "Tree planting programmes",
        "Flood defences", "Waste collection",
    ]),
]


_H, _L = Direction.HIGHER.value, Direction.LOWER.value


# (group, [(outcome, desirable direction)]); some outcomes are "lower is better".
OUTCOME_VOCABULARY: list[tuple[str, list[tuple[str, str]]]] = [
    ("Poverty and consumption", [
        ("Household consumption", _H), ("Poverty headcount", _L), ("Food security", _H),
        ("Household assets", _H), ("Household debt", _L), ("Dietary diversity", _H),
    ]),
    ("Health", [
        ("Child mortality", _L), ("Stunting", _L), ("Diarrhoea incidence", _L),
        ("Use of health services", _H), ("Psychological distress", _L), ("Malaria incidence", _L),
    ]),
    ("Education", [
        ("School enrolment", _H), ("School attendance", _H), ("Test scores", _H),
        ("Dropout", _L), ("Grade progression", _H), ("Years of schooling", _H),
    ]),
    ("Employment and income", [
        ("Employment", _H), ("Earnings", _H), ("Business profits", _H), ("Hours worked", _H),
        ("Child labour", _L), ("Formal employment", _H),
    ]),
    ("Empowerment", [
        ("Women's decision-making", _H), ("Intimate partner violence", _L), ("Early marriage", _L),
        ("Self-efficacy", _H), ("Freedom of movement", _H), ("Teenage pregnancy", _L),
    ]),
    ("Governance", [
        ("Corruption", _L), ("Quality of public services", _H), ("Trust in institutions", _H),
        ("Civic participation", _H), ("Tax compliance", _H), ("Bribe payments", _L),
    ]),
    ("Environment and sanitation", [
        ("Open defecation", _L), ("Drinking water quality", _H), ("Deforestation", _L),
        ("Indoor air pollution", _L), ("Clean energy use", _H), ("Fish stocks", _H),
    ]),
    ("Social cohesion and safety", [
        ("Crime", _L), ("Violent conflict", _L), ("Social trust", _H), ("Displacement", _L),
        ("Discrimination", _L), ("Community participation", _H),
    ]),
    ("Resilience", [
        ("Recovery after shocks", _H), ("Negative coping strategies", _L), ("Savings", _H),
        ("Crop losses", _L), ("Income volatility", _L), ("Access to credit", _H),
    ]),
    ("Wellbeing", [
        ("Life satisfaction", _H), ("Depression", _L), ("Stress", _L), ("Happiness", _H),
        ("Loneliness", _L), ("Hope", _H),
    ]),
]


# M49 region -> [(ISO code, name)], most studied first.
COUNTRIES: dict[str, list[tuple[str, str]]] = {
    "Africa": [
        ("KE", "Kenya"), ("UG", "Uganda"), ("ET", "Ethiopia"), ("TZ", "Tanzania"), ("GH", "Ghana"),
        ("NG", "Nigeria"), ("MW", "Malawi"), ("RW", "Rwanda"), ("ZA", "South Africa"),
        ("ZM", "Zambia"), ("BF", "Burkina Faso"), ("SN", "Senegal"), ("MZ", "Mozambique"),
        ("ZW", "Zimbabwe"), ("ML", "Mali"), ("NE", "Niger"), ("CM", "Cameroon"), ("EG", "Egypt"),
        ("MA", "Morocco"), ("SL", "Sierra Leone"), ("LR", "Liberia"), ("CD", "DR Congo"),
        ("MG", "Madagascar"), ("BJ", "Benin"),
    ],
    "Asia": [
        ("IN", "India"), ("BD", "Bangladesh"), ("PK", "Pakistan"), ("ID", "Indonesia"),
        ("PH", "the Philippines"), ("VN", "Viet Nam"), ("NP", "Nepal"), ("CN", "China"),
        ("KH", "Cambodia"), ("LK", "Sri Lanka"), ("AF", "Afghanistan"), ("MM", "Myanmar"),
        ("JO", "Jordan"), ("LB", "Lebanon"), ("TR", "Türkiye"), ("YE", "Yemen"),
        ("KG", "Kyrgyzstan"), ("TJ", "Tajikistan"), ("MN", "Mongolia"), ("LA", "Lao PDR"),
    ],
    "Americas": [
        ("MX", "Mexico"), ("BR", "Brazil"), ("CO", "Colombia"), ("PE", "Peru"), ("NI", "Nicaragua"),
        ("HN", "Honduras"), ("GT", "Guatemala"), ("EC", "Ecuador"), ("BO", "Bolivia"),
        ("SV", "El Salvador"), ("PY", "Paraguay"), ("AR", "Argentina"), ("CL", "Chile"),
        ("HT", "Haiti"), ("DO", "the Dominican Republic"), ("JM", "Jamaica"),
        ("US", "the United States"), ("CA", "Canada"),
    ],
    "Europe": [
        ("UA", "Ukraine"), ("MD", "Moldova"), ("RO", "Romania"), ("BG", "Bulgaria"),
        ("RS", "Serbia"), ("AL", "Albania"), ("GB", "the United Kingdom"), ("IT", "Italy"),
        ("ES", "Spain"), ("PL", "Poland"),
    ],
    "Oceania": [
        ("PG", "Papua New Guinea"), ("FJ", "Fiji"), ("SB", "Solomon Islands"), ("VU", "Vanuatu"),
        ("AU", "Australia"),
    ],
}


REGION_WEIGHTS = {"Africa": 38, "Asia": 34, "Americas": 18, "Europe": 6, "Oceania": 4}


POPULATIONS = [
    "Rural households", "Urban poor households", "Women aged 15-49", "Children under five",
    "Primary school pupils", "Secondary school students", "Smallholder farmers",
    "Young people aged 15-24", "Refugees and displaced people", "Older people",
    "Micro-entrepreneurs", "Adolescent girls", "Health workers", "Teachers",
    "Municipal governments", "Informal workers", "People living with HIV",
]


SOURCES = [
    "Journal of Development Economics", "World Development", "The Lancet Global Health",
    "American Economic Journal: Applied Economics", "Journal of Development Effectiveness",
    "BMJ Global Health", "Economic Development and Cultural Change", "Social Science & Medicine",
    "World Bank Policy Research Working Paper", "NBER Working Paper", "3ie Impact Evaluation Report",
    "Journal of Human Resources", "Campbell Systematic Reviews", "PLOS ONE", "Food Policy",
    "Comparative Education Review",
]


SURNAMES = [
    "Abebe", "Acharya", "Adeyemi", "Agarwal", "Ahmed", "Akinyi", "Alvarez", "Amoah", "Andersen",
    "Asante", "Bakari", "Banda", "Bhatt", "Barrera", "Bello", "Bose", "Carvalho", "Castro",
    "Chanda", "Chen", "Chowdhury", "Cruz", "Das", "Diallo", "Dlamini", "Dossou", "Eze",
    "Fernandes", "Fofana", "Garcia", "Ghosh", "Gonzalez", "Gupta", "Haile", "Hassan", "Hoang",
    "Hussain", "Ibrahim", "Islam", "Jensen", "Kabir", "Kamau", "Kariuki", "Khan", "Kim", "Koné",
    "Kumar", "Lopez", "Mahmoud", "Martinez", "Mbeki", "Mensah", "Mendez", "Mohammed", "Moyo",
    "Murthy", "Mwangi", "Nakamura", "Nguyen", "Njoroge", "Novak", "Nyarko", "Okafor",
    "Oliveira", "Ortega", "Osei", "Otieno", "Patel", "Pereira", "Phiri", "Quispe", "Rahman",
    "Ramirez", "Rao", "Rossi", "Santos", "Sarr", "Sen", "Shah", "Silva", "Singh", "Tadesse",
    "Tembo", "Tran", "Traoré", "Usman", "Vargas", "Wanjiru", "Yadav", "Zulu",
]


ARMS = [
    "Treatment vs control", "Any treatment vs control", "Full programme vs control",
    "Light-touch arm vs control", "High-intensity arm vs comparison", "Programme vs waitlist",
    "Intervention villages vs comparison villages", "Beneficiaries vs matched non-beneficiaries",
]


TIMINGS = [
    "endline", "midline", "6-month follow-up", "12-month follow-up", "24-month follow-up",
    "3-year follow-up", "long-run follow-up",
]


SUBGROUPS = [
    "women", "men", "girls", "boys", "poorest quintile", "rural sample", "urban sample",
    "youngest cohort", "female-headed households",
]


DELIVERERS = [
    "the ministry of health", "the ministry of education", "local NGOs", "community volunteers",
    "district governments", "mobile network operators", "microfinance institutions",
    "faith-based organisations", "UN agencies", "private contractors",
]


THEMES = [
    "cost-effectiveness", "heterogeneity by gender", "spillovers to non-beneficiaries",
    "implementation fidelity", "targeting errors", "take-up and compliance",
    "effects on the poorest households", "persistence after the programme ended",
    "general equilibrium effects", "intra-household bargaining", "the role of social networks",
]


APPRAISAL_NOTES = [
    "Attrition differed between arms at endline.", "Baseline balance reported for all covariates.",
    "Outcome self-reported; no validation sub-sample.", "Pre-analysis plan registered.",
    "Clustered standard errors with few clusters.", "Spill-overs to comparison villages possible.",
]
