"""The fixed content of the demo account: the names of its lists, segment, automation and campaign,
its 40 contacts (who is on which list, who unsubscribed, who never visited the website, who looked at
the prices lately), Ada's month by hand, and the bodies of its emails (WEBSITE in them stands for the
demo website's address). Plain data, no code: the other modules of app.demo make it into rows.
"""
HISTORY_DAYS = 30

CUSTOMERS, NEWSLETTER = "Customers", "Newsletter"
SEGMENT_NAME = "Viewed pricing twice in 14 days"
AUTOMATION_NAME = "Pricing follow-up"
CAMPAIGN_NAME = "Spring offer"

# (email, first name, last name, phone, lists: C = Customers, N = Newsletter). Ada comes first: the
# printed link identifies her.
DEMO_CONTACTS = [
    ("ada@example.com", "Ada", "Lovelace", "+14155550101", "CN"),
    ("grace@example.com", "Grace", "Hopper", "", "C"),
    ("liam.carter@example.com", "Liam", "Carter", "", "CN"),
    ("sofia.martinez@example.org", "Sofia", "Martinez", "+12025550143", "N"),
    ("noah.kim@example.net", "Noah", "Kim", "", "CN"),
    ("olivia.brown@example.com", "Olivia", "Brown", "", "N"),
    ("lucas.meyer@example.org", "Lucas", "Meyer", "", "C"),
    ("mia.rossi@example.com", "Mia", "Rossi", "", "CN"),
    ("ethan.nguyen@example.net", "Ethan", "Nguyen", "+13125550178", "CN"),
    ("ava.johnson@example.com", "Ava", "Johnson", "", "N"),
    ("leo.dubois@example.org", "Léo", "Dubois", "", "C"),
    ("chloe.wilson@example.com", "Chloe", "Wilson", "", "CN"),
    ("mateo.garcia@example.net", "Mateo", "García", "", "N"),
    ("zoe.taylor@example.com", "Zoe", "Taylor", "+16175550112", "CN"),
    ("jonas.berg@example.org", "Jonas", "Berg", "", "C"),
    ("amelia.clark@example.com", "Amelia", "Clark", "", "N"),
    ("hugo.lambert@example.net", "Hugo", "Lambert", "", "CN"),
    ("isla.murphy@example.com", "Isla", "Murphy", "", "N"),
    ("omar.haddad@example.org", "Omar", "Haddad", "", "C"),
    ("nora.jensen@example.com", "Nora", "Jensen", "", "CN"),
    ("felix.wagner@example.net", "Felix", "Wagner", "", "N"),
    ("emily.davis@example.com", "Emily", "Davis", "+15035550190", "C"),
    ("samuel.okafor@example.org", "Samuel", "Okafor", "", "CN"),
    ("hannah.lee@example.com", "Hannah", "Lee", "", "N"),
    ("arthur.moreau@example.net", "Arthur", "Moreau", "", "C"),
    ("lily.evans@example.com", "Lily", "Evans", "", "CN"),
    ("daniel.cohen@example.org", "Daniel", "Cohen", "", "N"),
    ("maya.patel@example.com", "Maya", "Patel", "", "CN"),
    ("oscar.lindqvist@example.net", "Oscar", "Lindqvist", "", "C"),
    ("ella.white@example.com", "Ella", "White", "", "N"),
    ("ruben.silva@example.org", "Rubén", "Silva", "", "CN"),
    ("freya.walsh@example.com", "Freya", "Walsh", "", "N"),
    ("victor.petit@example.net", "Victor", "Petit", "", "C"),
    ("julia.novak@example.com", "Julia", "Novak", "+17205550134", "CN"),
    ("adam.fischer@example.org", "Adam", "Fischer", "", "N"),
    ("sara.ali@example.com", "Sara", "Ali", "", "C"),
    ("theo.martin@example.net", "Théo", "Martin", "", "N"),
    ("alice.dupont@example.com", "Alice", "Dupont", "", "CN"),
    ("ben.harris@example.org", "Ben", "Harris", "", "N"),
    ("lena.vogel@example.com", "Lena", "Vogel", "", "C"),
]
ADA = DEMO_CONTACTS[0][0]
UNSUBSCRIBED_FROM_EMAIL = {"felix.wagner@example.net", "adam.fischer@example.org"}
# Never seen on the website; and those who viewed the pricing page at least twice in the last two weeks.
NEVER_VISITED = {"leo.dubois@example.org", "jonas.berg@example.org", "omar.haddad@example.org",
                 "arthur.moreau@example.net", "oscar.lindqvist@example.net", "victor.petit@example.net",
                 "sara.ali@example.com", "ben.harris@example.org", "lena.vogel@example.com",
                 "freya.walsh@example.com"}
PRICING_LEADS = {"liam.carter@example.com", "noah.kim@example.net", "mia.rossi@example.com",
                 "zoe.taylor@example.com", "hugo.lambert@example.net", "samuel.okafor@example.org",
                 "maya.patel@example.com"}
# Ada's month, by hand: one view of the pricing page in the last 14 days, so the printed link (to
# /pricing) brings her into the segment and starts the automation for her.
ADA_VISITS = [(24, 10, "", "https://www.google.com/", ["/", "/blog"]),
              (17, 19, "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", "", ["/blog", "/"]),
              (9, 12, "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", "", ["/pricing", "/app"]),
              (3, 8, "", "", ["/app", "/app/inbox", "/app/reports"])]

SPRING_LINKS = {"pricing": "/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring-offer",
                "blog": "/blog?utm_source=newsletter&utm_medium=email&utm_campaign=spring-offer"}
SPRING_BODY = """<h1>Spring offer: 20% off Pro</h1>
<p>Until the end of the month, the Pro plan is 20% off for a whole year.</p>
<p><a href="WEBSITE{pricing}">See the prices</a> or read <a href="WEBSITE{blog}">what is new on the blog</a>.</p>
<p>The Demo Shop team</p>"""  # noqa: E501 (the email's HTML, line for line as it is sent)
FOLLOW_UP_BODY = """<p>Hello,</p>
<p>You had a look at our prices: is anything unclear? Reply to this email and we will help you
choose, or <a href="WEBSITE/pricing">compare the plans again</a>.</p>
<p>The Demo Shop team</p>"""
DEMO_COMPANIES = ("Analytical Engines", "Bletchley Works", "Navy Labs", "Harbour Books", "Northwind Traders")
WELCOME_BODY = """<h1>Welcome, {{ first_name | default: "friend" }}!</h1>
<p>Thanks for joining the Demo Shop. Have a look at <a href="WEBSITE/pricing">our prices</a>
or read <a href="WEBSITE/blog">the blog</a>.</p>
<p>Every link above carries your own <code>cid</code>: click one, and your visit appears on your
contact page in Footfall.</p>"""
