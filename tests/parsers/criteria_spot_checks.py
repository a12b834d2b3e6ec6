"""What a careful reader finds in each real criteria text (tests/fixtures/criteria): how many
inclusion and exclusion items, and chosen items with their section, group path and text."""

from __future__ import annotations

from tests.parsers.criteria_texts import EXC, INC

# (file, inclusion count, exclusion count, [(index, section, path, text)])
SPOT_CHECKS: list[tuple[str, int, int, list[tuple[int, str, tuple[str, ...], str]]]] = [
    (
        "NCT04280705_v0_history.html",
        10,
        5,
        [
            (
                3,
                INC,
                (),
                "Male or non-pregnant female adult >/=18 years of age at time of enrollment.",
            ),
            (5, INC, (), "Illness of any duration, and at least one of the following:"),
            (
                7,
                INC,
                ("Illness of any duration, and at least one of the following",),
                "Clinical assessment (evidence of rales/crackles on exam) AND SpO2 </= 94% on "
                "room air, OR",
            ),
            (
                11,
                EXC,
                (),
                "Stage 4 severe chronic kidney disease or requiring dialysis (i.e. estimated "
                "glomerular filtration rate (eGFR) < 30)",
            ),
        ],
    ),
    (
        # "Cohort 1:" labels items 1-3; "Cohort 2:" closes item 3's text and labels item 4.
        "NCT01298141_classic.txt",
        24,
        3,
        [
            (0, INC, ("Cohort 1",), "The patient has a documented diagnosis of Fabry disease."),
            (
                4,
                INC,
                (
                    "Cohort 1",
                    "The patient must meet current Canadian guidelines for enzyme replacement "
                    "therapy for Fabry disease by meeting one of the following criteria",
                    "Age-adjusted glomerular filtration rate (GFR) <80 ml/min or a decline in "
                    "GFR of >10% which is sustained for 3 months and for which other causes of "
                    "declining renal function have been excluded by a nephrologist or any 2 of "
                    "the following",
                ),
                "Isolated proteinuria ≥500 mg/day/1.73 m2 without other cause",
            ),
            (23, INC, ("Cohort 2",), "Patient must have participated in Study REP001a."),
            (
                26,
                EXC,
                (),
                "The patient is enrolled in another clinical study, other than the Canadian "
                "Fabry Disease Initiative (CFDI).",
            ),
        ],
    ),
    (
        # Group labels nest: "PATIENT CHARACTERISTICS:" is followed by "Age:".
        "NCT00002475_classic.txt",
        35,
        0,
        [
            (
                1,
                INC,
                (
                    "DISEASE CHARACTERISTICS",
                    "Histologically confirmed cancer not amenable to cure or long-term control "
                    "by surgery, radiotherapy, chemotherapy, or hormonal manipulations, "
                    "including the following tumor types",
                ),
                "Colon cancer",
            ),
            (10, INC, ("PATIENT CHARACTERISTICS", "Age"), "18 and over"),
            (14, INC, ("PATIENT CHARACTERISTICS", "Performance status"), "Karnofsky 70-100%"),
            (34, INC, ("PRIOR CONCURRENT THERAPY", "Surgery"), "See Disease Characteristics"),
        ],
    ),
    (
        # "Transplant Inclusion:", labels "Group 1" without a colon, glued "•" bullets.
        "NCT01220531_classic.txt",
        12,
        7,
        [
            (
                3,
                INC,
                ("Transplant", "Group 1"),
                "Typical cDGA whose T cells have a PHA response < 5,000 cpm and < 20 fold PHA "
                "response.",
            ),
            (
                10,
                INC,
                ("Transplant", "Group 4"),
                "Atypical cDGA with maternal engraftment and group 4 PHA response",
            ),
            (11, EXC, ("Transplant",), "Heart surgery <4 wks pre-transplantation"),
            (18, INC, ("Biological Mother",), "Must be biological mother of thymus recipient"),
        ],
    ),
    (
        "NCT06388018_v2.md",
        34,
        10,
        [
            (
                11,
                INC,
                (
                    "SUB-STUDY A: Patients with endometrial carcinoma (endometrioid, serous, "
                    "clear cell, un-/dedifferentiated, carcinosarcoma, mixed), must have one of "
                    "the following combinations of International Federation of Gynecology and "
                    "Obstetrics (FIGO) stage, grade, and lymphovascular invasion (LVI)",
                    "Cohort A1",
                ),
                "Stage IA (not confined to polyp), grade 3, pN0, with or without LVI (Pelvic "
                "lymph node surgical assessment (sentinel or full lymphadenectomy) is required "
                "for grade 3 or stage II. Para-aortic lymphadenectomy is not mandated.)",
            ),
            (
                10,
                INC,
                (
                    "SUB-STUDY A: Patients with endometrial carcinoma (endometrioid, serous, "
                    "clear cell, un-/dedifferentiated, carcinosarcoma, mixed), must have one of "
                    "the following combinations of International Federation of Gynecology and "
                    "Obstetrics (FIGO) stage, grade, and lymphovascular invasion (LVI)",
                ),
                "Cohort A1:",
            ),
            (3, INC, (), "Patients' age must be >= 18 years"),
        ],
    ),
    (
        # "* a) Cohort 1: ..." - the inner enumerator is numbering; "m\^2" is a power.
        "NCT04431453_v2.md",
        9,
        7,
        [
            (
                1,
                INC,
                (
                    "Aged < 18 years of age who meet one of the following weight criteria "
                    "(where permitted according to local law and approved nationally and by "
                    "relevant institutional review board (IRB) or independent ethics committee "
                    "(IEC)).",
                ),
                "Cohort 1: ≥ 12 years to < 18 years of age and weight at screening ≥ 40 kg",
            ),
            (
                11,
                EXC,
                (),
                "Estimated glomerular filtration rate (eGFR) < 30 mL/min/1.73m^2 using Schwartz "
                "formula for individuals ≥ 1 year of age.",
            ),
            (15, EXC, (), "Note: Other protocol defined Inclusion/Exclusion criteria may apply"),
        ],
    ),
    (
        # "Eligibility criteria:" names no section; "For ... participants:" are labels.
        "NCT03630471_v2.md",
        9,
        8,
        [
            (
                0,
                INC,
                ("For adolescent participants",),
                "Enrolled as a student in Grades 9-12 (corresponding to 13-20 years of age)",
            ),
            (
                6,
                INC,
                ("For parent participants",),
                "A primary parental caregiver or guardian for the index adolescent",
            ),
            (13, EXC, ("For adolescent participants",), "Not providing assent"),
            (
                16,
                EXC,
                ("For parent participants",),
                "Intoxicated at the point of consent or assessment",
            ),
        ],
    ),
    (
        "NCT03147742_classic.txt",
        11,
        14,
        [
            (4, INC, (), "Evidence of platelet engraftment (ie, platelets ≥ 20 × 10^9/L)."),
            (
                7,
                INC,
                (
                    "Be willing to avoid pregnancy or fathering children based on 1 of the "
                    "following criteria",
                ),
                "Women of non-childbearing potential (ie, surgically sterile with a hysterectomy "
                "and/or bilateral oophorectomy OR ≥ 12 months of amenorrhea).",
            ),
        ],
    ),
    (
        # "Non-inclusion criteria:" are exclusion criteria; "10." is right-aligned.
        "NCT02679963_classic.txt",
        29,
        20,
        [
            (
                9,
                INC,
                ("For inclusion in the study subjects should fulfill the following criteria",),
                "ECOG Performance Status of 0-1",
            ),
            (
                21,
                INC,
                (
                    "For inclusion in the study subjects should fulfill the following criteria",
                    "Evidence of non-childbearing status for women of childbearing potential: "
                    "negative serum pregnancy test within 14 days of study treatment.",
                    "Postmenopausal is defined as",
                ),
                "Amenorrheic for 1 year or more following cessation of exogenous hormonal "
                "treatments,",
            ),
            (
                29,
                EXC,
                (),
                "Uncontrolled or symptomatic brain metastases. Controlled brain metastases are "
                "defined as stable for 1 month. A scan to confirm the absence of brain metastases "
                "is not required. Corticosteroids therapy will be allowed if administered at a "
                "stable dose for at least one month before entering the trial.",
            ),
        ],
    ),
    (
        # A bulleted heading; an introduction that is a label, one that is also an item.
        "NCT00001177_classic.txt",
        12,
        2,
        [
            (
                4,
                INC,
                ("The subjects of this study will be women who meet the following criteria",),
                "regular menses.",
            ),
            (
                11,
                INC,
                (),
                "Age-matched women without mood and behavioral disorders will be recruited.",
            ),
            (
                12,
                EXC,
                (),
                "Subjects should have no general medical illness that is primary (i.e., appears to "
                "be causing the mood disorder);",
            ),
        ],
    ),
    (
        # "Inclusion Criteria Stage 1" has no colon; "Exclusion Criteria for Stage 1".
        "NCT03424005_classic.txt",
        19,
        20,
        [
            (0, INC, ("Stage 1",), "ECOG Performance Status of 0 or 1"),
            (15, INC, ("stage 2",), "ECOG Performance Status of 0, 1, or 2"),
            (
                19,
                EXC,
                ("Stage 1",),
                "Prior treatment with any of the Stage 1 protocol-specified study treatments "
                "included in arms that are open at the time of screening, with the exception of "
                "capecitabine",
            ),
        ],
    ),
    (
        # "Eligibility criteria for the secondary randomisation ... Inclusion criteria"
        # names a group that holds over its inclusion and exclusion criteria.
        "NCT02028676_classic.txt",
        32,
        11,
        [
            (
                31,
                INC,
                ("the secondary randomisation to once vs twice daily lamivudine+abacavir",),
                "Participating in ARROW",
            ),
            (
                35,
                EXC,
                ("the secondary randomisation to once vs twice daily lamivudine+abacavir",),
                "Likely to switch to second-line therapy in the next 12 weeks",
            ),
            (
                42,
                EXC,
                (
                    "the secondary randomisation to stop or continue cotrimoxazole prophylaxis "
                    "randomisation",
                ),
                "Previous diagnosis of Pneumocystis jiroveci pneumonia (cotrimoxazole is "
                "secondary prophylaxis and should not be discontinued)",
            ),
        ],
    ),
    (
        "NCT01357915_classic.txt",
        5,
        6,
        [
            (
                3,
                INC,
                (
                    "Subjects of the vaccine group should in addition satisfy the following "
                    "criterion",
                ),
                "Subjects who participated in the primary study 108890 (NCT00435396), having "
                "received 3 doses of the GSK's CMV candidate vaccine and having completed the Year "
                "2 follow-up study 109211 (NCT00435396).",
            ),
            (
                10,
                EXC,
                (
                    "For subjects in the seropositive reference group, the following exclusion "
                    "criterion should be checked in addition",
                ),
                "Administration of any CMV vaccine since the screening visit of primary study "
                "108890 (NCT00435396).",
            ),
        ],
    ),
    (
        # Capitals labels; the source's "mm³" keeps its power as "mm^3", like "mm\^3".
        "NCT00276835_v2.md",
        44,
        0,
        [
            (
                26,
                INC,
                ("PATIENT CHARACTERISTICS", "Adequate pulmonary reserve"),
                "FEV_1 > 75% of predicted",
            ),
            (19, INC, ("PATIENT CHARACTERISTICS",), "Platelets > 100,000/mm^3"),
            (
                35,
                INC,
                ("PRIOR CONCURRENT THERAPY",),
                "Recovered from all toxic effects of prior therapy",
            ),
        ],
    ),
    (
        # Nested "1." lists; a trailing empty "-" bullet is no criterion.
        "NCT04207047_v2.md",
        12,
        22,
        [
            (
                10,
                INC,
                (),
                "Absence of physical or psychological conditions unacceptable to the investigator.",
            ),
            (
                33,
                EXC,
                ("History or current use of the following medications",),
                "Psychiatric drugs that in the investigators opinion would impair the subject from "
                "understanding the protocol requirements or understanding and signing the informed "
                "consent.",
            ),
        ],
    ),
]
