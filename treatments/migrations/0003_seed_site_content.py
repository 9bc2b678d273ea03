"""Default copy for the public pages and the aftercare timeline; staff edit it in the admin.

Only rows that are missing are created, so re-running never overwrites a manager's edits.
"""

from django.db import migrations

MILESTONES = [
    (
        "day-0-4",
        "Days 0–4",
        "Keep your scalp completely dry",
        "Don't wash, wet or shower your scalp.\n"
        "Avoid anything that makes you sweat: exercise, saunas, steam rooms, hot baths.\n"
        "Don't touch, scratch or pick at the small scabs; they protect the pigment.\n"
        "Sleep on a clean pillowcase.\n"
        "Redness for a day or two, mild swelling and itching are normal.",
    ),
    (
        "day-4",
        "Day 4",
        "A first, gentle clean",
        "You may clean your scalp with a little plain water, applied by hand and patted dry.\n"
        "Still no shower on your scalp and no sweating.\n"
        "Keep leaving the scabs alone: let them fall off on their own.",
    ),
    (
        "day-5",
        "Day 5",
        "Start moisturising",
        "Begin a gentle, fragrance-free moisturiser once or twice a day.\n"
        "If you shave your head, use an electric foil shaver only: no blades yet.",
    ),
    (
        "day-7",
        "Day 7",
        "Showers and exercise can return",
        "You can shower as normal and take up exercise that makes you sweat again.\n"
        "Some technicians prefer you wait until day 10 for full activity: follow what yours advised.",
    ),
    (
        "day-10",
        "Day 10",
        "Back to normal",
        "Wash with a mild shampoo and carry on with normal activities.\n"
        "Keep moisturising daily.",
    ),
    (
        "day-30",
        "Day 30",
        "Swimming and hot tubs",
        "Chlorinated pools and hot tubs are fine again.\n"
        "If anything worries you before this, call your clinic.",
    ),
    (
        "for-life",
        "For life",
        "Protect your pigment",
        "Use SPF 30–50 sunscreen on your scalp whenever it is in the sun: the sun is the main cause of fading.\n"
        "Moisturise daily.\n"
        "Expect a touch-up after two to five years, depending on your skin and lifestyle.",
    ),
]

PAGES = {
    "home": {
        "title": "Scalp micropigmentation",
        "meta_description": "Natural-looking scalp micropigmentation for hair loss, thinning hair and scars. "
        "Book a free consultation at one of our clinics.",
        "intro": "Scalp micropigmentation (SMP) places thousands of tiny dots of pigment in the scalp to look "
        "like hair follicles.\nIt is non-surgical, matched to your own hair colour, and it starts with a free, "
        "no-pressure consultation.",
        "sections": [],
    },
    "treatments": {
        "title": "Treatments",
        "meta_description": "Our SMP treatments: hairline design, alopecia, scar camouflage and density, "
        "with course lengths and price guides.",
        "intro": "Every treatment starts with a free consultation, where we look at your scalp, talk about what "
        "you want and tell you honestly whether SMP is right for you.",
        "sections": [],
    },
    "aftercare": {
        "title": "Aftercare",
        "meta_description": "What to do, day by day, after each SMP session: keep this page open on your phone.",
        "intro": "Follow these steps after every session, counting from the day of the session. "
        "Keep this page on your phone; our reminders link to each step.",
        "sections": [],
    },
    "results": {
        "title": "Results",
        "meta_description": "Before and after photos from our clients, shown with their written consent.",
        "intro": "Before and after photos of real clients. Every photo here is shown with the client's written "
        "consent, which they can withdraw at any time.",
        "sections": [],
    },
    "locations": {
        "title": "Our clinics",
        "meta_description": "Addresses, opening hours and directions for our SMP clinics.",
        "intro": "Consultations and treatments are by appointment at each of our clinics.",
        "sections": [],
    },
    "privacy": {
        "title": "Privacy notice",
        "meta_description": "What health information we keep about you, why, for how long, and how to get "
        "a copy or have it erased.",
        "intro": "To treat you safely we keep some information about your health. This notice explains what we "
        "keep, why, for how long, and what you can ask us to do with it under UK data protection law.",
        "sections": [
            (
                "What we keep",
                "Your contact details and the appointments you book.\n\n"
                "Health information from your consultation and sessions: your type and stage of hair loss, "
                "skin type, medical history, medicines, allergies, and whether SMP is suitable for you.\n\n"
                "Notes from each session (areas treated, pigment, needle, reactions) and photos of your scalp "
                "before and after treatment.\n\n"
                "Your consents: what you agreed to, when, and any you withdrew.",
            ),
            (
                "Why we keep it",
                "To treat you safely and well: allergies and medical history decide whether and how we treat "
                "you, and each session is planned on the notes from the last one.\n\n"
                "To send you appointment reminders and aftercare messages, unless you ask us not to.\n\n"
                "We keep health information with your explicit consent, given at your consultation, and use it "
                "only for your care. We never sell it.",
            ),
            (
                "Who can see it",
                "Only the clinic staff who need it. Reception can see your contact details and bookings but "
                "not your clinical notes or photos. Technicians see the records of clients they treat. "
                "We record who looks at clinical notes and photos.",
            ),
            (
                "Photos on our results page",
                "Your photos appear on our results page only if you give separate written consent, and never "
                "with your name. If you withdraw that consent, they are removed from the page straight away.",
            ),
            (
                "How long we keep it",
                "We keep your treatment record for as long as you are a client and for eight years after your "
                "last appointment, so that we can answer questions about past treatment and plan touch-ups. "
                "After that we delete it. Marketing preferences are kept until you change them.",
            ),
            (
                "A copy of your record",
                "You can ask for a copy of everything we hold about you, including photos. Ask at the clinic, "
                "by phone or by e-mail; we will check it is you and reply within one month, free of charge.",
            ),
            (
                "Correcting or erasing your record",
                "Tell us if anything is wrong and we will correct it. You can ask us to erase your record: we "
                "delete your photos and contact details, and keep only what the law requires us to, with your "
                "name removed.",
            ),
            (
                "Complaints",
                "If you are unhappy with how we handle your information, talk to us first. You can also "
                "complain to the Information Commissioner's Office (ico.org.uk).",
            ),
        ],
    },
}


def seed(apps, schema_editor):
    AftercareMilestone = apps.get_model("treatments", "AftercareMilestone")
    Page = apps.get_model("treatments", "Page")
    PageSection = apps.get_model("treatments", "PageSection")
    for order, (anchor, label, title, body) in enumerate(MILESTONES, start=1):
        AftercareMilestone.objects.get_or_create(
            anchor=anchor, defaults={"label": label, "title": title, "body": body, "order": order}
        )
    for key, data in PAGES.items():
        data = dict(data)
        sections = data.pop("sections")
        page, created = Page.objects.get_or_create(key=key, defaults=data)
        if created:
            for order, (heading, body) in enumerate(sections, start=1):
                PageSection.objects.create(page=page, heading=heading, body=body, order=order)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0002_site_content"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
